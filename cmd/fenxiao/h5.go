package main

// h5Routes are the follower's pages inside WeChat (issue 7).
func (s *server) h5Routes(r router) {}
