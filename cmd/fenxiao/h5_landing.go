package main

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/gofiber/fiber/v2"

	"fenxiao/campaign"
)

// h5Landing serves the page every visitor of a campaign opens first: the campaign and its
// numbers come from the replica's shared snapshot (at most a second old), so a visitor costs
// their session and the gate's own checks, whatever the campaign's size. An open campaign's
// page is the same for every visitor but for their CSRF token, so it is rendered once per
// snapshot and each visitor gets it with their own token (landingPages).
func (s *server) h5Landing(c *fiber.Ctx) error {
	id, _ := c.ParamsInt("id")
	snap, err := s.campaign.Snapshot(c.UserContext(), int64(id))
	if err != nil {
		return err
	}
	camp := snap.Campaign
	u, err := s.follower(c, camp, false)
	if err != nil {
		return signedIn(err)
	}
	l, err := s.campaign.Landing(c.UserContext(), snap, u, s.gateIP(c, camp, u), c.Query("s"))
	if err != nil {
		return err
	}
	s.visits.view(camp, u)
	if l.Gate.Reason != campaign.Open {
		return s.gatePage(c, camp, u, l.Gate, "")
	}
	page, err := s.landings.get(snap, s.renderLanding)
	if err != nil {
		return err
	}
	s.h5PageHeaders(c)
	res := c.Response()
	res.ResetBody()
	page.write(res.BodyWriter(), s.h5CSRF(c))
	c.Type("html", "utf-8")
	return nil
}

// renderLanding renders the open landing page of snap for no one in particular: no user, and
// csrf where each visitor's own token goes.
func (s *server) renderLanding(snap *campaign.Snapshot, csrf string) ([]byte, error) {
	camp := snap.Campaign
	p := &h5Page{Title: camp.Title, Campaign: camp, Share: true, CSRF: csrf,
		Data: &campaign.Landing{Participants: snap.Participants, Ticker: snap.Ticker}}
	s.pageEnv(p)
	var b bytes.Buffer
	if err := s.views.Render(&b, "h5/landing", p, "layouts/h5"); err != nil {
		return nil, fmt.Errorf("render h5/landing: %w", err)
	}
	return b.Bytes(), nil
}

// landingPages keeps the landing page of each campaign rendered for its latest snapshot, so
// a viral campaign's page is executed about once a second per replica instead of once per
// visitor. Bounded like the covers: past landingKeep campaigns it starts again empty.
type landingPages struct {
	// mark stands for the visitor's CSRF token in a page rendered for everyone: random per
	// process, so no text a merchant writes into a campaign can pass for it.
	mark    string
	mu      sync.Mutex
	by      map[int64]*landingPage
	renders atomic.Int64 // pages rendered (tests)
}

const landingKeep = 1024

func newLandingPages() *landingPages {
	return &landingPages{mark: "csrf-" + rand.Text()}
}

// landingPage is one rendered landing page, cut where the visitor's CSRF token goes.
type landingPage struct {
	snap  *campaign.Snapshot
	once  sync.Once
	parts [][]byte
	err   error // a failed render fails the snapshot's requests; the next snapshot tries again
}

// get returns the page of snap, rendered once by render for all the requests that come with
// that snapshot. A request still holding an older snapshot than the page kept gets the newer
// page.
func (lp *landingPages) get(snap *campaign.Snapshot, render func(*campaign.Snapshot, string) ([]byte, error)) (*landingPage, error) {
	lp.mu.Lock()
	p := lp.by[snap.Campaign.ID]
	if p == nil || p.snap != snap && p.snap.ReadAt.Before(snap.ReadAt) {
		if lp.by == nil || len(lp.by) >= landingKeep {
			lp.by = map[int64]*landingPage{}
		}
		p = &landingPage{snap: snap}
		lp.by[snap.Campaign.ID] = p
	}
	lp.mu.Unlock()
	p.once.Do(func() {
		lp.renders.Add(1)
		var b []byte
		if b, p.err = render(p.snap, lp.mark); p.err == nil {
			p.parts = bytes.Split(b, []byte(lp.mark))
		}
	})
	return p, p.err
}

// write writes the page with the visitor's token in its place.
func (p *landingPage) write(w io.Writer, csrf string) {
	for i, part := range p.parts {
		if i > 0 {
			io.WriteString(w, csrf) //nolint:errcheck // the response body is memory
		}
		w.Write(part) //nolint:errcheck
	}
}
