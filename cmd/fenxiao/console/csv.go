package console

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/gofiber/fiber/v2"
)

// csvExportTimeout bounds one export once its response has started.
const csvExportTimeout = 10 * time.Minute

// streamCSV sends an export as it is written, page by page (the exports read 1,000 rows at a
// time), so the first byte leaves at once and the server never holds the whole file. check
// runs first, on the request, so a bad filter (a foreign campaign) is still an error page;
// an error after the first byte can only cut the file short, and is logged.
func (con *Server) streamCSV(c *fiber.Ctx, name string, check func(ctx context.Context) error, export func(ctx context.Context, w io.Writer) error) error {
	if err := check(c.UserContext()); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	c.Attachment(fmt.Sprintf("%s-%s.csv", name, time.Now().In(con.Cfg.TimeZone).Format("20060102-1504")))
	m := merchantOf(c)
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		// The request's context ends with the handler; the stream outlives it.
		ctx, cancel := context.WithTimeout(context.Background(), csvExportTimeout)
		defer cancel()
		if err := export(ctx, w); err != nil {
			con.Log.Error("csv export cut short", "merchant_id", m, "export", name, "err", err)
		}
		w.Flush() //nolint:errcheck
	})
	return nil
}
