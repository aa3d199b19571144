package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/jpeg"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"fenxiao/campaign/merchant/merchanttest/imagetest"
)

// The campaign form's "paste an image address": the server fetches it once, through the
// upload's checks, and answers the stored copy's /media address; a 100000×100000 PNG is
// refused by its header, an internal address when it is dialled. The edit form lists the
// addresses migration 0012 took out of the campaign until the campaign is saved.
func TestConsolePastedImageAddress(t *testing.T) {
	var photo bytes.Buffer
	jpeg.Encode(&photo, image.NewRGBA(image.Rect(0, 0, 1600, 1200)), nil) //nolint:errcheck
	files := map[string][]byte{"/tea.jpg": photo.Bytes(), "/bomb.png": imagetest.Bomb(100000, 100000, 1)}
	var internalHits atomic.Int64
	internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { internalHits.Add(1) }))
	defer internal.Close()
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if to := r.URL.Query().Get("to"); to != "" {
			http.Redirect(w, r, to, http.StatusFound)
			return
		}
		w.Write(files[r.URL.Path]) //nolint:errcheck
	}))
	defer web.Close()
	srv, base := startStackWith(t, nil, func(c *Config) { c.fetchOrigins = []string{web.URL} })
	b, m := signUp(t, srv, base, "图片小铺")
	camp, _, _ := merchantSetup(t, srv, m, 10)

	paste := func(addr string) (int, map[string]any) {
		resp, body := b.post("/console/uploads", url.Values{"url": {addr}})
		var j map[string]any
		json.Unmarshal([]byte(body), &j) //nolint:errcheck
		return resp.StatusCode, j
	}
	code, j := paste(web.URL + "/tea.jpg")
	if code != http.StatusOK || !strings.HasPrefix(fmt.Sprint(j["url"]), fmt.Sprintf("/media/%d/", m)) || j["width"] != 1280.0 {
		t.Fatalf("honest address: %d %v", code, j)
	}
	if resp, _ := b.get(fmt.Sprint(j["url"])); resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/jpeg" {
		t.Fatalf("stored copy: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for addr, want := range map[string]string{
		web.URL + "/bomb.png":   "图片尺寸过大（100000×100000）",
		internal.URL + "/admin": "内部网络",
		web.URL + "/r?to=" + url.QueryEscape(internal.URL+"/admin"): "内部网络",
		"ftp://example.com/a.png":                                   "http",
	} {
		if code, j := paste(addr); code != http.StatusUnprocessableEntity || !strings.Contains(fmt.Sprint(j["error"]), want) {
			t.Errorf("%s: %d %v, want 422 saying %q", addr, code, j, want)
		}
	}
	if n := internalHits.Load(); n != 0 {
		t.Fatalf("the internal server was asked %d times", n)
	}

	// An address 0012 dropped: listed on the edit form until the campaign is saved.
	if _, err := srv.DB.Exec(`INSERT INTO dropped_images (merchant_id, campaign_id, field, url) VALUES ($1, $2, 'product_images', 'https://cdn.example.com/old.jpg')`, m, camp.ID); err != nil {
		t.Fatal(err)
	}
	edit := fmt.Sprintf("/console/campaigns/%d/edit", camp.ID)
	if _, page := b.get(edit); !strings.Contains(page, `id="dropped-images"`) || !strings.Contains(page, "商品图片：https://cdn.example.com/old.jpg") {
		t.Fatal("the edit form does not list the dropped address")
	}
	if _, err := srv.Campaign.Update(t.Context(), m, camp.ID, camp.Settings); err != nil {
		t.Fatal(err)
	}
	if _, page := b.get(edit); strings.Contains(page, `id="dropped-images"`) {
		t.Fatal("the dropped address is still listed after saving")
	}
}
