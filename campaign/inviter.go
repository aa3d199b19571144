package campaign

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"
)

// The landing page names the friend whose share link a visitor opened ("你的好友 王** 邀请你").
// A viral campaign's visitors mostly come through a few sharers' links, and a nickname
// changes rarely, so the masked names are kept in a small in-process cache: a landing view
// through a share costs no query for it once the sharer's name is known.

// inviterKeep bounds the cached names; inviterFresh is how long one is trusted (a sharer who
// renames shows the new name within it).
const (
	inviterKeep  = 4096
	inviterFresh = 10 * time.Minute
)

type inviterName struct {
	name string
	at   time.Time
}

type inviters struct {
	names *lru[inviterName]
	reads atomic.Int64
}

func newInviters() inviters {
	return inviters{names: newLRU(inviterKeep, func(inviterName) int { return 1 })}
}

// InviterReads is how many inviter nicknames this service has read from the database (tests).
func (s *Service) InviterReads() int64 { return s.inviters.reads.Load() }

// inviter is the masked nickname of the sharer whose link (shareToken) visitor opened, or ""
// when there is none to name: no or a forged token, the visitor's own link, a sharer without
// a nickname yet.
func (s *Service) inviter(ctx context.Context, c *Campaign, visitor *User, shareToken string) (string, error) {
	if shareToken == "" {
		return "", nil
	}
	sharerID, ok := s.ParseShareToken(c.ID, shareToken)
	if !ok || sharerID == visitor.ID {
		return "", nil
	}
	key := strconv.FormatInt(c.MerchantID, 10) + "/" + strconv.FormatInt(sharerID, 10)
	if n, ok := s.inviters.names.get(key); ok && time.Since(n.at) < inviterFresh {
		return n.name, nil
	}
	s.inviters.reads.Add(1)
	var nick []string
	if err := s.db.SelectContext(ctx, &nick, `SELECT nickname FROM wechat_users WHERE merchant_id = $1 AND id = $2`,
		c.MerchantID, sharerID); err != nil {
		return "", fmt.Errorf("campaign: inviter %d: %w", sharerID, err)
	}
	name := ""
	if len(nick) == 1 && nick[0] != "" {
		name = MaskName(nick[0])
	}
	s.inviters.names.put(key, inviterName{name: name, at: time.Now()})
	return name, nil
}
