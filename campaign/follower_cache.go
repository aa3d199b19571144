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
	mu       sync.Mutex
	changed  map[int64]time.Time // users changed on this replica lately, and when
	reads    atomic.Int64        // sessions read from the database (tests)
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
	return followerCache{fresh: fresh, sessions: newLRU(followerKeep, func(cachedFollower) int { return 1 }), changed: map[int64]time.Time{}}
}

// FollowerReads is how many follower sessions this service has read from the database (tests).
func (s *Service) FollowerReads() int64 { return s.followers.reads.Load() }

func followerKey(hash []byte, merchantID int64) string {
	return string(hash) + strconv.FormatInt(merchantID, 10)
}

// cachedFollower returns a copy of the signed-in session under key when it was read less
// than the reuse time ago and its user has not changed since.
func (s *Service) cachedFollower(key string) (*FollowerSession, bool) {
	e, ok := s.followers.sessions.get(key)
	if !ok {
		return nil, false
	}
	if age, clock := time.Since(e.at), s.now().Sub(e.clock); age >= s.followers.fresh || clock < 0 || clock >= s.followers.fresh {
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
