package main

// consoleRoutes are the merchant console's pages (issue 8).
func (s *server) consoleRoutes(r router) {}
