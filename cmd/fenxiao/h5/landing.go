package h5

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"html"
	"html/template"
	"io"
	"sync"
	"sync/atomic"

	"github.com/gofiber/fiber/v2"

	"fenxiao/campaign"
)

// landing serves the page every visitor of a campaign opens first: the campaign and its
// numbers come from the replica's shared snapshot (at most a second old), so a visitor costs
// their session and the gate's own checks, whatever the campaign's size. An open campaign's
// page is the same for every visitor but for their CSRF token, so it is rendered once per
// snapshot and each visitor gets it with their own token (landingPages).
func (s *Server) landing(c *fiber.Ctx) error {
	id, _ := c.ParamsInt("id")
	snap, err := s.Campaign.Snapshot(c.UserContext(), int64(id))
	if err != nil {
		return err
	}
	camp := snap.Campaign
	u, err := s.follower(c, camp, false)
	if err != nil {
		return signedIn(err)
	}
	l, err := s.Campaign.Landing(c.UserContext(), snap, u, s.gateIP(c, camp, u), c.Query("s"))
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
	s.pageHeaders(c)
	res := c.Response()
	res.ResetBody()
	page.write(res.BodyWriter(), s.csrfToken(c), inviteLine(l.Inviter))
	c.Type("html", "utf-8")
	return nil
}

// inviteLine is the visitor's own line of the landing page: who invited them, "" for no one.
func inviteLine(name string) string {
	if name == "" {
		return ""
	}
	return `<p class="invite" id="invite">你的好友 <b>` + html.EscapeString(name) + `</b> 邀请你</p>`
}

// landingView is the open landing page's data: the shared numbers, and where the visitor's
// own invite line goes.
type landingView struct {
	*campaign.Landing
	Invite template.HTML
}

// renderLanding renders the open landing page of snap for no one in particular: no user,
// csrf where each visitor's own token goes and invite where their invite line does.
func (s *Server) renderLanding(snap *campaign.Snapshot, csrf, invite string) ([]byte, error) {
	camp := snap.Campaign
	p := &pageData{Title: camp.Title, Campaign: camp, Share: true, CSRF: csrf, Data: landingView{
		Landing: &campaign.Landing{Participants: snap.Participants, Ticker: snap.Ticker, Reserve: snap.Reserve},
		Invite:  template.HTML(invite), //nolint:gosec // a mark of this process, replaced per visitor
	}}
	s.pageEnv(p)
	var b bytes.Buffer
	if err := s.Views.Render(&b, "h5/landing", p, "layouts/h5"); err != nil {
		return nil, fmt.Errorf("render h5/landing: %w", err)
	}
	return b.Bytes(), nil
}

// landingPages keeps the landing page of each campaign rendered for its latest snapshot, so
// a viral campaign's page is executed about once a second per replica instead of once per
// visitor. Bounded like the covers: past landingKeep campaigns it starts again empty.
type landingPages struct {
	// mark stands for the visitor's CSRF token in a page rendered for everyone, inviteMark
	// for their invite line: random per process, so no text a merchant writes into a
	// campaign can pass for either.
	mark       string
	inviteMark string
	mu         sync.Mutex
	by         map[int64]*landingPage
	renders    atomic.Int64 // pages rendered (tests)
}

const landingKeep = 1024

func newLandingPages() *landingPages {
	return &landingPages{mark: "csrf-" + rand.Text(), inviteMark: "invite-" + rand.Text()}
}

// landingPage is one rendered landing page, cut where the visitor's CSRF token and invite
// line go: between parts[i] and parts[i+1] comes the visitor's slots[i].
type landingPage struct {
	snap  *campaign.Snapshot
	once  sync.Once
	parts [][]byte
	slots []landingSlot
	err   error // a failed render fails the snapshot's requests; the next snapshot tries again
}

type landingSlot bool

const (
	csrfSlot   landingSlot = false
	inviteSlot landingSlot = true
)

// get returns the page of snap, rendered once by render for all the requests that come with
// that snapshot. A request still holding an older snapshot than the page kept gets the newer
// page.
func (lp *landingPages) get(snap *campaign.Snapshot, render func(snap *campaign.Snapshot, csrf, invite string) ([]byte, error)) (*landingPage, error) {
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
		if b, p.err = render(p.snap, lp.mark, lp.inviteMark); p.err == nil {
			p.parts, p.slots = lp.cut(b)
		}
	})
	return p, p.err
}

// cut splits a rendered page at each mark, in the order they come.
func (lp *landingPages) cut(b []byte) ([][]byte, []landingSlot) {
	var parts [][]byte
	var slots []landingSlot
	for {
		c, i := bytes.Index(b, []byte(lp.mark)), bytes.Index(b, []byte(lp.inviteMark))
		switch {
		case c < 0 && i < 0:
			return append(parts, b), slots
		case i < 0 || (c >= 0 && c < i):
			parts, slots, b = append(parts, b[:c]), append(slots, csrfSlot), b[c+len(lp.mark):]
		default:
			parts, slots, b = append(parts, b[:i]), append(slots, inviteSlot), b[i+len(lp.inviteMark):]
		}
	}
}

// write writes the page with the visitor's token and invite line in their places.
func (p *landingPage) write(w io.Writer, csrf, invite string) {
	for i, part := range p.parts {
		if i > 0 {
			v := csrf
			if p.slots[i-1] == inviteSlot {
				v = invite
			}
			io.WriteString(w, v) //nolint:errcheck // the response body is memory
		}
		w.Write(part) //nolint:errcheck
	}
}
