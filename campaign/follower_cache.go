package campaign

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// A page load inside WeChat is several requests of one visitor within a second (the page, its
// API calls, the poster, the JS-SDK signature), and a viral campaign's visitors reload. Each
// replica therefore reuses a signed-in session it has read for a second (SessionReuse): the session
// query is one round trip per visitor and second, not per request. What can change a cached
// user on this replica (a fan check, an unfollow, a sign-in) drops it at once; on another
// replica it is at most that second late, well inside the five minutes a "follows" answer
// is trusted anyway (fanTrust). Money never depends on it: reservations, payments and claims
// check their rules in the database.

const (
	defaultFollowerFresh = time.Second
	followerKeep         = 50_000 // sessions kept per replica; past it the least recently used go
)

type followerCache struct {
	fresh    time.Duration // how long a session read is reused; 0: not at all
	sessions *lru[cachedFollower]
	opened   *lru[openedLink] // the share link each visitor last opened per campaign, as applied
	mu       sync.Mutex
	changed  map[int64]time.Time // users changed on this replica lately, and when
	reads    atomic.Int64        // sessions read from the database (tests)
	binds    atomic.Int64        // share-link openings sent to the database (tests)
}

// cachedFollower is a signed-in session as read: at is the wall clock (monotonic) of the
// read and clock the service's clock then, so a test clock moved past an expiry misses too.
type cachedFollower struct {
	fs     FollowerSession
	at     time.Time
	clock  time.Time
	userID int64
}

func newFollowerCache(fresh time.Duration) followerCache {
	switch {
	case fresh == 0:
		fresh = defaultFollowerFresh
	case fresh < 0:
		fresh = 0
	}
	return followerCache{
		fresh:    fresh,
		sessions: newLRU(followerKeep, func(cachedFollower) int { return 1 }),
		opened:   newLRU(followerKeep, func(openedLink) int { return 1 }),
		changed:  map[int64]time.Time{},
	}
}

// openedLink is a share link's opening that bind applied: after it, the visitor was bound to
// sharerID (or the link could bind no one). Opening the same link again within the reuse time
// is known to change nothing, so the landing page of a reloading visitor skips the query.
type openedLink struct {
	sharerID int64
	at       time.Time
	clock    time.Time
}

func openedKey(campaignID, visitorID int64) string {
	return strconv.FormatInt(campaignID, 10) + "/" + strconv.FormatInt(visitorID, 10)
}

// reopened reports whether visitor opened sharerID's link on campaign c lately, on this
// replica, with nothing about them changed since: binding again would change nothing.
func (s *Service) reopened(c *Campaign, visitor *User, sharerID int64) bool {
	if s.followers.fresh == 0 {
		return false
	}
	e, ok := s.followers.opened.get(openedKey(c.ID, visitor.ID))
	if !ok || e.sharerID != sharerID {
		return false
	}
	return s.fresh(e.at, e.clock) && !s.changedSince(visitor.ID, e.at)
}

// keepOpened remembers that visitor's opening of sharerID's link, begun at startedAt, has been
// applied.
func (s *Service) keepOpened(c *Campaign, visitor *User, sharerID int64, startedAt time.Time) {
	if s.followers.fresh == 0 || s.changedSince(visitor.ID, startedAt) {
		return
	}
	s.followers.opened.put(openedKey(c.ID, visitor.ID), openedLink{sharerID: sharerID, at: startedAt, clock: s.now()})
}

// FollowerReads is how many follower sessions this service has read from the database (tests).
func (s *Service) FollowerReads() int64 { return s.followers.reads.Load() }

// BindQueries is how many share-link openings this service has sent to the database (tests).
func (s *Service) BindQueries() int64 { return s.followers.binds.Load() }

func followerKey(hash []byte, merchantID int64) string {
	return string(hash) + strconv.FormatInt(merchantID, 10)
}

// fresh reports whether something read at (wall clock) and clock (the service's clock then)
// is still within the reuse time by both: a test clock moved past an expiry counts too.
func (s *Service) fresh(at, clock time.Time) bool {
	age, moved := time.Since(at), s.now().Sub(clock)
	return age < s.followers.fresh && moved >= 0 && moved < s.followers.fresh
}

// cachedFollower returns a copy of the signed-in session under key when it was read less
// than the reuse time ago and its user has not changed since.
func (s *Service) cachedFollower(key string) (*FollowerSession, bool) {
	e, ok := s.followers.sessions.get(key)
	if !ok {
		return nil, false
	}
	if !s.fresh(e.at, e.clock) {
		return nil, false
	}
	if s.changedSince(e.userID, e.at) {
		return nil, false
	}
	fs := e.fs
	fs.User = copyUser(e.fs.User)
	return &fs, true
}

// keepFollower caches a signed-in session just read at readAt. A session whose user changed
// on this replica while it was being read is not kept.
func (s *Service) keepFollower(key string, fs *FollowerSession, readAt time.Time) {
	if s.followers.fresh == 0 {
		return
	}
	if s.changedSince(fs.User.ID, readAt) {
		return
	}
	e := cachedFollower{fs: *fs, at: readAt, clock: s.now(), userID: fs.User.ID}
	e.fs.User = copyUser(fs.User)
	s.followers.sessions.put(key, e)
}

// changedSince reports whether user id changed on this replica at or after readAt.
func (s *Service) changedSince(id int64, readAt time.Time) bool {
	s.followers.mu.Lock()
	defer s.followers.mu.Unlock()
	at, ok := s.followers.changed[id]
	return ok && !readAt.After(at)
}

// usersChanged is userChanged for each of ids.
func (s *Service) usersChanged(ids []int64) {
	for _, id := range ids {
		s.userChanged(id)
	}
}

// userChanged drops the cached sessions of user id on this replica: call it once the change is
// committed (a session read before the mark is not reused after it).
func (s *Service) userChanged(id int64) {
	now := time.Now()
	s.followers.mu.Lock()
	defer s.followers.mu.Unlock()
	if len(s.followers.changed) > 1024 {
		for uid, at := range s.followers.changed {
			if now.Sub(at) > s.followers.fresh {
				delete(s.followers.changed, uid)
			}
		}
	}
	s.followers.changed[id] = now
}

// copyUser copies u deeply: a request may change its copy (a fan check does), never the cache's.
func copyUser(u *User) *User {
	c := *u
	if u.FanCheckedAt != nil {
		t := *u.FanCheckedAt
		c.FanCheckedAt = &t
	}
	return &c
}
