// Package region tells which Chinese province and city an IPv4 address is registered in,
// from the ip2region database embedded in the binary, and checks the allow-lists merchants
// write for a campaign's region gate ("广东省", "广东省/深圳市"). It knows nothing of
// campaigns: the gate (campaign/gate.go) asks it.
package region

import (
	_ "embed"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"unicode/utf8"
)

// ip2regionDB is the ip2region IPv4 database in its v1 ".db" format, as published by
// lionsoul2014/ip2region (data of 2021-10-25; the same file ships in the npm package
// ip2region@2.3.0). It is public data under the Apache License 2.0, embedded unchanged.
//
// Layout, all integers little-endian:
//
//	[0:4]   offset of the first index entry
//	[4:8]   offset of the last index entry
//	[8:…]   a B-tree header block for readers that seek in the file (unused here), then
//	        data records: a uint32 city id and the UTF-8 text "国家|区域|省份|城市|ISP",
//	        "0" marking an unknown part
//	index   12-byte entries sorted by IP: uint32 start IP, uint32 end IP, uint32 whose low
//	        24 bits are the record's offset and high 8 bits its length (city id included)
//	tail    "Created by lionsoul at 2021/10/25"
//
// The reader is written here rather than imported: with the file embedded it is one binary
// search over bytes already in memory, and upstream's Go binding now reads only the v2
// "xdb" format, so a v1 reader would mean an old or third-party module for ~40 lines.
//
//go:embed ip2region.db
var ip2regionDB []byte

var (
	// ErrInvalidIP means the client address given to DB.Lookup is not an IP address.
	ErrInvalidIP = errors.New("region: invalid IP address")
	// ErrIPv6 means DB.Lookup got an IPv6 address: the database covers IPv4 only.
	ErrIPv6 = errors.New("region: no region data for IPv6")
	// ErrUnknown is wrapped by the merchant-readable errors of DB.ValidEntry: an
	// allow-list entry is malformed or names a province or city the database does not know.
	ErrUnknown = errors.New("region: unknown region")
)

// China is the Country of every address in mainland China, Hong Kong, Macao and Taiwan:
// the only country whose provinces a region allow-list can name.
const China = "中国"

// Place is where an IP address is registered. Empty fields are unknown; the zero Place
// is an unknown place (private, loopback and reserved addresses, addresses the data does
// not place), which no non-empty allow-list admits.
type Place struct {
	// Country in Chinese, such as "中国" or "美国".
	Country string
	// Province is, in China, the full official name of the province-level division, such as
	// "广东省", "北京市" or "广西壮族自治区" (the data's short forms are expanded). Elsewhere
	// it is the data's state or region name, which may be in English.
	Province string
	// City as the data names it: usually "深圳市", but prefectures often without their
	// suffix ("大理", "延边"); municipalities repeat their own name ("北京市").
	City string
	// ISP such as "电信", "联通", "移动" or "阿里云".
	ISP string
}

// String is the region for display: "广东省 深圳市", "北京市", "中国" when only the country
// is known, the country alone outside China ("美国"), and "未知地区" for the zero Place.
func (r Place) String() string {
	switch {
	case r.Country == "":
		return "未知地区"
	case r.Country != China || r.Province == "":
		return r.Country
	case r.City == "" || r.City == r.Province:
		return r.Province
	default:
		return r.Province + " " + r.City
	}
}

// Province is one Chinese province-level division and the cities the database places
// addresses in.
type Province struct {
	Name   string
	Cities []string
}

// Municipality reports a province-level city (北京市, 上海市): its only city is itself, so
// the picker offers it as one choice.
func (p Province) Municipality() bool { return len(p.Cities) == 1 && p.Cities[0] == p.Name }

// Whole is how the picker says "all of it": 全市 for a municipality, 全区 for an autonomous
// or special administrative region, 全省 for a province.
func (p Province) Whole() string {
	switch {
	case strings.HasSuffix(p.Name, "市"):
		return "全市"
	case strings.HasSuffix(p.Name, "区"):
		return "全区"
	}
	return "全省"
}

// DB answers which region an IP address belongs to. It holds the embedded database in
// memory and is safe for concurrent use; load it once with Load and share it.
type DB struct {
	index   []byte           // the index entries, 12 bytes each, sorted and contiguous
	records map[uint32]Place // decoded data records by the index entry's pointer word
	// provinces is in chinaProvinces order, cities in Unicode order; cities maps province
	// name to its set of cities for ValidEntry.
	provinces []Province
	cities    map[string]map[string]bool
}

// Load reads the embedded database, checks its structure and decodes its ~14,000
// distinct records, so that lookups need no decoding and allocate nothing. It takes tens of
// milliseconds: call it once at start.
func Load() (*DB, error) {
	return parse(ip2regionDB)
}

const entrySize = 12

func parse(db []byte) (*DB, error) {
	if len(db) < 8 {
		return nil, errors.New("region: ip2region.db: too short")
	}
	first := int(binary.LittleEndian.Uint32(db[0:]))
	last := int(binary.LittleEndian.Uint32(db[4:]))
	if first < 8 || last < first || (last-first)%entrySize != 0 || last+entrySize > len(db) {
		return nil, fmt.Errorf("region: ip2region.db: bad header (index %d..%d, size %d)", first, last, len(db))
	}
	r := &DB{
		index:   db[first : last+entrySize],
		records: make(map[uint32]Place),
		cities:  make(map[string]map[string]bool),
	}
	// Lookup relies on the entries covering 0.0.0.0–255.255.255.255 without gap or overlap:
	// then the entry for an IP is the last one starting at or below it.
	var next uint64
	for off := 0; off < len(r.index); off += entrySize {
		e := r.index[off:]
		start, end, ptr := binary.LittleEndian.Uint32(e), binary.LittleEndian.Uint32(e[4:]), binary.LittleEndian.Uint32(e[8:])
		if uint64(start) != next || end < start {
			return nil, fmt.Errorf("region: ip2region.db: index entry %d (%d–%d) does not follow %d", off/entrySize, start, end, next)
		}
		next = uint64(end) + 1
		if _, ok := r.records[ptr]; ok {
			continue
		}
		at, n := int(ptr&0xffffff), int(ptr>>24)
		if n < 4 || at+n > first {
			return nil, fmt.Errorf("region: ip2region.db: index entry %d points outside the data", off/entrySize)
		}
		reg, err := parseRecord(db[at+4 : at+n])
		if err != nil {
			return nil, fmt.Errorf("region: ip2region.db: record at %d: %w", at, err)
		}
		r.records[ptr] = reg
		if reg.Country == China && reg.Province != "" {
			set := r.cities[reg.Province]
			if set == nil {
				set = make(map[string]bool)
				r.cities[reg.Province] = set
			}
			if reg.City != "" {
				set[reg.City] = true
			}
		}
	}
	if next != 1<<32 {
		return nil, fmt.Errorf("region: ip2region.db: index ends at %d, not at 255.255.255.255", next-1)
	}
	r.provinces = sortedProvinces(r.cities)
	return r, nil
}

// parseRecord decodes "国家|区域|省份|城市|ISP". The 区域 (area) part is "0" throughout
// this data and is dropped. A record without a country — "0|0|0|内网IP|内网IP" for private
// and reserved ranges — is the unknown Place.
func parseRecord(b []byte) (Place, error) {
	if !utf8.Valid(b) {
		return Place{}, errors.New("not UTF-8")
	}
	parts := strings.Split(string(b), "|")
	if len(parts) != 5 {
		return Place{}, fmt.Errorf("%q has %d parts, want 5", b, len(parts))
	}
	for i, p := range parts {
		if p == "0" {
			parts[i] = ""
		}
	}
	if parts[0] == "" {
		return Place{}, nil
	}
	reg := Place{Country: parts[0], Province: parts[2], City: parts[3], ISP: parts[4]}
	if reg.Country == China {
		reg.Province = fullProvinceName(reg.Province)
	}
	return reg, nil
}

// chinaProvinces are the province-level divisions in GB/T 2260 code order (11 北京 … 82 澳门),
// the order Chinese address pickers use, with the short form the data uses where it is not
// the full name.
var chinaProvinces = [...]struct{ name, short string }{
	{"北京市", "北京"}, {"天津市", "天津"}, {"河北省", ""}, {"山西省", ""}, {"内蒙古自治区", "内蒙古"},
	{"辽宁省", ""}, {"吉林省", ""}, {"黑龙江省", ""},
	{"上海市", "上海"}, {"江苏省", ""}, {"浙江省", ""}, {"安徽省", ""}, {"福建省", ""}, {"江西省", ""}, {"山东省", ""},
	{"河南省", ""}, {"湖北省", ""}, {"湖南省", ""}, {"广东省", ""}, {"广西壮族自治区", "广西"}, {"海南省", ""},
	{"重庆市", "重庆"}, {"四川省", ""}, {"贵州省", ""}, {"云南省", ""}, {"西藏自治区", "西藏"},
	{"陕西省", ""}, {"甘肃省", ""}, {"青海省", ""}, {"宁夏回族自治区", "宁夏"}, {"新疆维吾尔自治区", "新疆"},
	{"台湾省", ""}, {"香港特别行政区", "香港"}, {"澳门特别行政区", "澳门"},
}

func fullProvinceName(s string) string {
	for _, p := range chinaProvinces {
		if p.short != "" && p.short == s {
			return p.name
		}
	}
	return s
}

// sortedProvinces lists the provinces in chinaProvinces order; a name missing from that
// table (a future data file) follows in Unicode order rather than disappearing.
func sortedProvinces(cities map[string]map[string]bool) []Province {
	rank := make(map[string]int, len(chinaProvinces))
	for i, p := range chinaProvinces {
		rank[p.name] = i
	}
	out := make([]Province, 0, len(cities))
	for name, set := range cities {
		p := Province{Name: name, Cities: make([]string, 0, len(set))}
		for c := range set {
			p.Cities = append(p.Cities, c)
		}
		slices.Sort(p.Cities)
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b Province) int {
		ra, oka := rank[a.Name]
		rb, okb := rank[b.Name]
		switch {
		case oka && okb:
			return ra - rb
		case oka:
			return -1
		case okb:
			return 1
		default:
			return strings.Compare(a.Name, b.Name)
		}
	})
	return out
}

// Lookup returns the region of an IPv4 address ("1.2.3.4", or IPv4-mapped "::ffff:1.2.3.4").
// Loopback, private, link-local, multicast and other non-public addresses are the unknown
// Place with a nil error. Input that is not an IP address fails with ErrInvalidIP, and an
// IPv6 address with ErrIPv6 (the database has no IPv6 data); in both cases the Place is
// the zero, unknown one, so a caller that only logs the error still refuses the visitor
// under a non-empty allow-list.
func (r *DB) Lookup(ip string) (Place, error) {
	addr, err := netip.ParseAddr(strings.TrimSpace(ip))
	if err != nil {
		return Place{}, fmt.Errorf("region: place of %.64q: %w", ip, ErrInvalidIP)
	}
	addr = addr.Unmap()
	if !addr.Is4() {
		return Place{}, fmt.Errorf("region: place of %s: %w", addr, ErrIPv6)
	}
	if !addr.IsGlobalUnicast() || addr.IsPrivate() {
		return Place{}, nil
	}
	a4 := addr.As4()
	v := binary.BigEndian.Uint32(a4[:])
	// Find the first entry starting above v; the one before it holds v.
	lo, hi := 0, len(r.index)/entrySize
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if binary.LittleEndian.Uint32(r.index[mid*entrySize:]) <= v {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	ptr := binary.LittleEndian.Uint32(r.index[(lo-1)*entrySize+8:])
	return r.records[ptr], nil
}

// Provinces lists every Chinese province-level division in the data with its cities, for
// the console's picker: provinces in GB/T 2260 code order (北京市, 天津市, 河北省 … 台湾省,
// 香港特别行政区, 澳门特别行政区), cities in Unicode order. The result is the caller's to
// modify.
func (r *DB) Provinces() []Province {
	out := slices.Clone(r.provinces)
	for i := range out {
		out[i].Cities = slices.Clone(out[i].Cities)
	}
	return out
}

// ValidEntry checks one allow-list entry: a province ("广东省") or a province and one of its
// cities ("广东省/深圳市"), named as Provinces lists them. The error's message is for the
// merchant (`未知的省份：“广东”，是否为“广东省”？`, `广东省 没有城市“纽约”`) and wraps
// ErrUnknown.
func (r *DB) ValidEntry(s string) error {
	prov, city, hasCity := splitEntry(s)
	if prov == "" || (hasCity && (city == "" || strings.Contains(city, "/"))) {
		return entryError(fmt.Sprintf("地区“%s”的格式不对，应为“省份”或“省份/城市”，如“广东省”或“广东省/深圳市”", s))
	}
	set, ok := r.cities[prov]
	if !ok {
		names := make([]string, len(r.provinces))
		for i, p := range r.provinces {
			names[i] = p.Name
		}
		return entryError(fmt.Sprintf("未知的省份：“%s”", prov) + hint(prov, names))
	}
	if hasCity && !set[city] {
		var names []string
		for _, p := range r.provinces {
			if p.Name == prov {
				names = p.Cities
			}
		}
		return entryError(fmt.Sprintf("%s 没有城市“%s”", prov, city) + hint(city, names))
	}
	return nil
}

// Allowed reports whether a visitor from reg may take part under the allow-list
// entries (validated with ValidEntry): always when the list is empty; otherwise only when
// reg is in China and its province is listed, or its province and city are listed together.
// The unknown Place is never allowed by a non-empty list.
func Allowed(entries []string, reg Place) bool {
	if len(entries) == 0 {
		return true
	}
	if reg.Country != China || reg.Province == "" {
		return false
	}
	for _, e := range entries {
		prov, city, hasCity := splitEntry(e)
		if prov == reg.Province && (!hasCity || (city != "" && city == reg.City)) {
			return true
		}
	}
	return false
}

func splitEntry(s string) (prov, city string, hasCity bool) {
	prov, city, hasCity = strings.Cut(s, "/")
	return strings.TrimSpace(prov), strings.TrimSpace(city), hasCity
}

// hint suggests the one name that the merchant's text is a prefix of, or that is a
// prefix of it: "广东" → "广东省", "深圳" → "深圳市", "大理市" → "大理".
func hint(s string, names []string) string {
	match := ""
	for _, n := range names {
		if strings.HasPrefix(n, s) || strings.HasPrefix(s, n) {
			if match != "" {
				return ""
			}
			match = n
		}
	}
	if match == "" {
		return ""
	}
	return "，是否为“" + match + "”？"
}

type entryError string

func (e entryError) Error() string { return string(e) }
func (e entryError) Unwrap() error { return ErrUnknown }
