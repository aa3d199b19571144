package migrations_test

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"fenxiao/migrations"
	"fenxiao/migrations/dbtest"
)

// 0012 moves every image address that is not one of the campaign's merchant's own uploads
// out of the campaigns into dropped_images (kept, for the console to list), keeps the order
// of the remaining product images, and bumps the version so posters are drawn again.
func TestOwnImagesMigration(t *testing.T) {
	db, err := sqlx.Open("postgres", dbtest.NewDatabase(t, "own_images"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	all, err := migrations.All()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var m0012 migrations.Migration
	for _, m := range all {
		if m.Version == 12 {
			m0012 = m
			break
		}
		if _, err := db.ExecContext(ctx, m.SQL); err != nil {
			t.Fatalf("%04d: %v", m.Version, err)
		}
	}
	var a, b int64
	db.QueryRow(`INSERT INTO merchants (name) VALUES ('甲') RETURNING id`).Scan(&a) //nolint:errcheck
	db.QueryRow(`INSERT INTO merchants (name) VALUES ('乙') RETURNING id`).Scan(&b) //nolint:errcheck
	hash := strings.Repeat("ab", 32)
	own := func(m int64, ext string) string { return "/media/" + strconv.FormatInt(m, 10) + "/" + hash + "." + ext }
	insert := func(m int64, logo, splash string, imgs ...string) int64 {
		var id int64
		err := db.QueryRow(`INSERT INTO campaigns (merchant_id, title, starts_at, ends_at, commission, product_name, price, logo, splash_image, product_images)
VALUES ($1, '活动', now(), now() + interval '1 day', 1, '茶', 10, $2, $3, $4) RETURNING id`, m, logo, splash, pq.StringArray(imgs)).Scan(&id)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	mixed := insert(a, "https://cdn.example.com/logo.png", own(b, "png"),
		"http://evil.example/bomb.png", own(a, "jpg"), "/c/1/cover.png", own(a, "png"), own(a, "png")+"?x")
	clean := insert(a, own(a, "png"), "", own(a, "webp"))

	if _, err := db.ExecContext(ctx, m0012.SQL); err != nil {
		t.Fatal(err)
	}
	type row struct {
		Logo    string         `db:"logo"`
		Splash  string         `db:"splash_image"`
		Images  pq.StringArray `db:"product_images"`
		Version int            `db:"version"`
	}
	var got row
	if err := db.Get(&got, `SELECT logo, splash_image, product_images, version FROM campaigns WHERE id = $1`, mixed); err != nil {
		t.Fatal(err)
	}
	if got.Logo != "" || got.Splash != "" || strings.Join(got.Images, " ") != own(a, "jpg")+" "+own(a, "png") || got.Version != 2 {
		t.Fatalf("mixed campaign after 0012: %+v", got)
	}
	var dropped []string
	if err := db.Select(&dropped, `SELECT field || ' ' || url FROM dropped_images WHERE campaign_id = $1 `, mixed); err != nil {
		t.Fatal(err)
	}
	want := []string{"logo https://cdn.example.com/logo.png", "product_images " + own(a, "png") + "?x", "product_images /c/1/cover.png",
		"product_images http://evil.example/bomb.png", "splash_image " + own(b, "png")}
	sort.Strings(dropped)
	sort.Strings(want)
	if strings.Join(dropped, "\n") != strings.Join(want, "\n") {
		t.Fatalf("dropped:\n%s\nwant:\n%s", strings.Join(dropped, "\n"), strings.Join(want, "\n"))
	}
	if err := db.Get(&got, `SELECT logo, splash_image, product_images, version FROM campaigns WHERE id = $1`, clean); err != nil {
		t.Fatal(err)
	}
	if got.Logo != own(a, "png") || len(got.Images) != 1 || got.Version != 1 {
		t.Fatalf("a campaign of own uploads changed: %+v", got)
	}
}
