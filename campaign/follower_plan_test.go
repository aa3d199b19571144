package campaign_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"testing"

	"fenxiao/campaign"
	"fenxiao/migrations/dbtest"
)

// The session query runs prepared, so after five executions PostgreSQL may plan it once for
// any parameters (a generic plan). That plan must find the session and its user by their keys
// whatever the merchants' sizes. Seen before (BenchmarkH5, two merchants, one with 100k
// users): a merge join that walked wechat_users in id order, 1,592 pages and 25 ms for one
// page view, because the sessions' statistics promised the walk would stop early.
func TestFollowerSessionPlanIsKeyLookups(t *testing.T) {
	// A database of its own, with two merchants: PostgreSQL then expects half the users to
	// belong to the one asked for, which is what tempted it into the walk.
	db := dbtest.Fresh(t, "follower_plan")
	svc := newService(t, db)
	big, err := svc.Merchants().CreateMerchant(ctx, "大商家")
	if err != nil {
		t.Fatal(err)
	}
	small, err := svc.Merchants().CreateMerchant(ctx, "小商家")
	if err != nil {
		t.Fatal(err)
	}
	// Both merchants' first visitors signed in while things were small, and PostgreSQL's
	// statistics of the sessions date from then. Then the big one's campaign went viral.
	early := `INSERT INTO wechat_users (merchant_id, openid, nickname) SELECT $1::bigint, $1::bigint::text || '-early-' || g, '' FROM generate_series(1, 64) g`
	sessions := `INSERT INTO h5_sessions (id, merchant_id, user_id, expires_at)
SELECT sha256(openid::bytea), merchant_id, id, now() + interval '1 day' FROM wechat_users WHERE merchant_id = $1`
	for _, s := range []struct {
		q string
		m int64
	}{
		{early, big}, {early, small}, {sessions, big}, {sessions, small},
		{`INSERT INTO wechat_users (merchant_id, openid, nickname) SELECT $1, 'viral-' || g, '' FROM generate_series(1, 30000) g`, big},
	} {
		if _, err := db.ExecContext(ctx, s.q, s.m); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []string{`VACUUM ANALYZE wechat_users`, `ANALYZE h5_sessions`} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO h5_sessions (id, merchant_id, user_id, expires_at)
SELECT sha256(openid::bytea), merchant_id, id, now() + interval '1 day' FROM wechat_users
WHERE merchant_id = $1 AND openid = 'viral-30000'`, big); err != nil {
		t.Fatal(err)
	}

	conn, err := db.Connx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, q := range []string{
		`SET plan_cache_mode = force_generic_plan`,
		`PREPARE follower(bytea, timestamptz, bigint) AS ` + campaign.FollowerSQL,
	} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	for _, v := range []struct {
		name, openid string
		merchant     int64
	}{
		{"the big merchant's newest visitor", "viral-30000", big},
		{"the big merchant's first visitor", fmt.Sprintf("%d-early-1", big), big},
		{"the small merchant's visitor", fmt.Sprintf("%d-early-64", small), small},
	} {
		var out string
		if err := conn.GetContext(ctx, &out, fmt.Sprintf(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE follower('\x%s'::bytea, now(), %d)`,
			hex.EncodeToString(sha256Of(v.openid)), v.merchant)); err != nil {
			t.Fatal(err)
		}
		var plans []struct {
			Plan struct {
				Rows int `json:"Actual Rows"`
				Hit  int `json:"Shared Hit Blocks"`
				Read int `json:"Shared Read Blocks"`
			}
		}
		if err := json.Unmarshal([]byte(out), &plans); err != nil || len(plans) != 1 {
			t.Fatalf("plan %s: %v", out, err)
		}
		p := plans[0].Plan
		if p.Rows != 1 {
			t.Fatalf("%s: %d rows, want 1\n%s", v.name, p.Rows, out)
		}
		// Two index lookups and their rows: a handful of pages, not a walk through the users.
		if blocks := p.Hit + p.Read; blocks > 12 {
			t.Errorf("%s: the generic plan reads %d pages for one session, want ≤ 12 (key lookups)\n%s", v.name, blocks, out)
		}
	}
}

func sha256Of(s string) []byte {
	sum := sha256.Sum256([]byte(s))
	return sum[:]
}
