package region_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"fenxiao/campaign/region"
)

// regionsOnce shares one decoded database between the region tests.
var regionsOnce = sync.OnceValues(region.Load)

func loadRegions(t testing.TB) *region.DB {
	t.Helper()
	r, err := regionsOnce()
	if err != nil {
		t.Fatalf("LoadRegions: %v", err)
	}
	return r
}

// The expectations were checked against the npm package ip2region@2.3.0 reading the same
// file; only the province names differ, expanded here from the data's short forms.
func TestRegionLookup(t *testing.T) {
	r := loadRegions(t)
	tests := []struct {
		ip      string
		want    region.Place
		display string
		err     error
	}{
		{"61.135.169.121", region.Place{Country: "中国", Province: "北京市", City: "北京市", ISP: "联通"}, "北京市", nil},
		{"202.96.209.133", region.Place{Country: "中国", Province: "上海市", City: "上海市", ISP: "电信"}, "上海市", nil},
		{"58.60.1.1", region.Place{Country: "中国", Province: "广东省", City: "深圳市", ISP: "电信"}, "广东省 深圳市", nil},
		{"::ffff:120.24.78.68", region.Place{Country: "中国", Province: "广东省", City: "深圳市", ISP: "阿里云"}, "广东省 深圳市", nil},
		{"202.102.3.141", region.Place{Country: "中国", Province: "江苏省", City: "常州市", ISP: "电信"}, "江苏省 常州市", nil},
		{" 114.114.114.114 ", region.Place{Country: "中国", Province: "江苏省", City: "南京市"}, "江苏省 南京市", nil},
		{"116.1.1.1", region.Place{Country: "中国", Province: "广西壮族自治区", City: "桂林市", ISP: "电信"}, "广西壮族自治区 桂林市", nil},
		{"203.198.1.1", region.Place{Country: "中国", Province: "香港特别行政区", ISP: "电讯盈科"}, "香港特别行政区", nil},
		// The data knows the province only ("广东省|0"), or only the country ("中国|0|0|0|移动").
		{"14.197.176.9", region.Place{Country: "中国", Province: "广东省", ISP: "鹏博士"}, "广东省", nil},
		{"36.132.128.9", region.Place{Country: "中国", ISP: "移动"}, "中国", nil},
		{"8.8.8.8", region.Place{Country: "美国", ISP: "Level3"}, "美国", nil},
		{"1.2.3.4", region.Place{Country: "美国", Province: "华盛顿", ISP: "谷歌"}, "美国", nil},
		// Non-public addresses: the data says "内网IP" for them, which is no place.
		{"127.0.0.1", region.Place{}, "未知地区", nil},
		{"192.168.1.10", region.Place{}, "未知地区", nil},
		{"100.64.0.1", region.Place{}, "未知地区", nil}, // carrier-grade NAT
		{"0.0.0.0", region.Place{}, "未知地区", nil},
		{"255.255.255.255", region.Place{}, "未知地区", nil},
		{"2400:3200::1", region.Place{}, "未知地区", region.ErrIPv6},
		{"::1", region.Place{}, "未知地区", region.ErrIPv6},
		{"not-an-ip", region.Place{}, "未知地区", region.ErrInvalidIP},
		{"1.2.3", region.Place{}, "未知地区", region.ErrInvalidIP},
		{"1.2.3.4:80", region.Place{}, "未知地区", region.ErrInvalidIP},
		{"", region.Place{}, "未知地区", region.ErrInvalidIP},
	}
	for _, tt := range tests {
		t.Run(tt.ip, func(t *testing.T) {
			got, err := r.Lookup(tt.ip)
			if !errors.Is(err, tt.err) || (tt.err == nil && err != nil) {
				t.Fatalf("Lookup(%q) error = %v, want %v", tt.ip, err, tt.err)
			}
			if got != tt.want {
				t.Errorf("Lookup(%q) = %+v, want %+v", tt.ip, got, tt.want)
			}
			if s := got.String(); s != tt.display {
				t.Errorf("Lookup(%q).String() = %q, want %q", tt.ip, s, tt.display)
			}
		})
	}
}

func TestRegionLookupConcurrent(t *testing.T) {
	r := loadRegions(t)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 1000 {
				ip := fmt.Sprintf("58.60.%d.%d", g, i%256)
				if reg, err := r.Lookup(ip); err != nil || reg.Province != "广东省" {
					t.Errorf("Lookup(%s) = %+v, %v", ip, reg, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestRegionProvinces(t *testing.T) {
	r := loadRegions(t)
	ps := r.Provinces()
	if len(ps) != 34 {
		t.Errorf("Provinces() has %d entries, want the 34 province-level divisions", len(ps))
	}
	var names []string
	for _, p := range ps {
		names = append(names, p.Name)
		full := strings.HasSuffix(p.Name, "省") || strings.HasSuffix(p.Name, "市") ||
			strings.HasSuffix(p.Name, "自治区") || strings.HasSuffix(p.Name, "特别行政区")
		if !full {
			t.Errorf("province %q is not a full name: the short-form table misses it", p.Name)
		}
		if !slices.IsSorted(p.Cities) {
			t.Errorf("%s cities not sorted: %v", p.Name, p.Cities)
		}
	}
	if names[0] != "北京市" || names[len(names)-1] != "澳门特别行政区" {
		t.Errorf("Provinces() not in code order: %v", names)
	}
	city := func(prov, c string) bool {
		i := slices.IndexFunc(ps, func(p region.Province) bool { return p.Name == prov })
		return i >= 0 && slices.Contains(ps[i].Cities, c)
	}
	for _, pc := range [][2]string{{"北京市", "北京市"}, {"上海市", "上海市"}, {"广东省", "深圳市"}, {"江苏省", "苏州市"}, {"新疆维吾尔自治区", "乌鲁木齐市"}} {
		if !city(pc[0], pc[1]) {
			t.Errorf("Provinces() lacks %s/%s", pc[0], pc[1])
		}
	}
	ps[0].Cities[0] = "changed"
	if r.Provinces()[0].Cities[0] == "changed" {
		t.Error("Provinces() shares its slices with the caller")
	}
}

func TestRegionValidEntry(t *testing.T) {
	r := loadRegions(t)
	tests := []struct{ entry, err string }{
		{"广东省", ""},
		{"广东省/深圳市", ""},
		{" 广东省 / 深圳市 ", ""},
		{"北京市", ""},
		{"北京市/北京市", ""},
		{"内蒙古自治区/呼和浩特市", ""},
		{"云南省/大理", ""},
		{"广东", "未知的省份：“广东”，是否为“广东省”？"},
		{"加州", "未知的省份：“加州”"},
		{"广东省/纽约", "广东省 没有城市“纽约”"},
		{"广东省/深圳", "广东省 没有城市“深圳”，是否为“深圳市”？"},
		{"云南省/大理市", "云南省 没有城市“大理市”，是否为“大理”？"},
		{"浙江省/深圳市", "浙江省 没有城市“深圳市”"},
		{"", "地区“”的格式不对，应为“省份”或“省份/城市”，如“广东省”或“广东省/深圳市”"},
		{"广东省/", "地区“广东省/”的格式不对，应为“省份”或“省份/城市”，如“广东省”或“广东省/深圳市”"},
		{"广东省/深圳市/南山区", "地区“广东省/深圳市/南山区”的格式不对，应为“省份”或“省份/城市”，如“广东省”或“广东省/深圳市”"},
	}
	for _, tt := range tests {
		err := r.ValidEntry(tt.entry)
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("ValidEntry(%q) = %v, want nil", tt.entry, err)
		case tt.err != "" && (err == nil || err.Error() != tt.err):
			t.Errorf("ValidEntry(%q) = %v, want %s", tt.entry, err, tt.err)
		case err != nil && !errors.Is(err, region.ErrUnknown):
			t.Errorf("ValidEntry(%q) = %v, does not wrap ErrUnknownRegion", tt.entry, err)
		}
	}
}

func TestRegionAllowed(t *testing.T) {
	shenzhen := region.Place{Country: "中国", Province: "广东省", City: "深圳市", ISP: "电信"}
	guangdongOnly := region.Place{Country: "中国", Province: "广东省"}
	beijing := region.Place{Country: "中国", Province: "北京市", City: "北京市"}
	tests := []struct {
		name    string
		entries []string
		reg     region.Place
		want    bool
	}{
		{"empty list admits anyone", nil, shenzhen, true},
		{"empty list admits unknown", []string{}, region.Place{}, true},
		{"province", []string{"广东省"}, shenzhen, true},
		{"province without known city", []string{"广东省"}, guangdongOnly, true},
		{"other province", []string{"浙江省", "北京市"}, shenzhen, false},
		{"municipality", []string{"浙江省", "北京市"}, beijing, true},
		{"city", []string{"广东省/深圳市"}, shenzhen, true},
		{"spaced city", []string{" 广东省 / 深圳市 "}, shenzhen, true},
		{"other city", []string{"广东省/广州市"}, shenzhen, false},
		{"city entry, city unknown", []string{"广东省/深圳市"}, guangdongOnly, false},
		{"unknown region", []string{"广东省"}, region.Place{}, false},
		{"country only", []string{"广东省"}, region.Place{Country: "中国", ISP: "移动"}, false},
		{"foreign", []string{"广东省"}, region.Place{Country: "美国", Province: "广东省"}, false},
	}
	for _, tt := range tests {
		if got := region.Allowed(tt.entries, tt.reg); got != tt.want {
			t.Errorf("%s: RegionAllowed(%q, %+v) = %v, want %v", tt.name, tt.entries, tt.reg, got, tt.want)
		}
	}
}

func BenchmarkRegionLookup(b *testing.B) {
	r := loadRegions(b)
	ips := make([]string, 1024)
	for i := range ips {
		// Spread over the address space; a multiplicative hash keeps it deterministic.
		v := uint32(i) * 2654435761
		ips[i] = fmt.Sprintf("%d.%d.%d.%d", v>>24, v>>16&255, v>>8&255, v&255)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := r.Lookup(ips[i%len(ips)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkRegionLoad(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := region.Load(); err != nil {
			b.Fatal(err)
		}
	}
}
