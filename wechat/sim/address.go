package sim

import (
	"fmt"
	"net/http"
)

// Address is a simulated user's saved delivery address, what wx.openAddress answers with
// (its field names are the JS-SDK's).
type Address struct {
	UserName     string `json:"userName"`
	TelNumber    string `json:"telNumber"`
	PostalCode   string `json:"postalCode"`
	ProvinceName string `json:"provinceName"`
	CityName     string `json:"cityName"`
	CountryName  string `json:"countryName"` // the district
	DetailInfo   string `json:"detailInfo"`
	NationalCode string `json:"nationalCode"`
}

// sampleAddresses are what a new simulated user has saved when the test gives none.
var sampleAddresses = []Address{
	{ProvinceName: "广东省", CityName: "深圳市", CountryName: "南山区", DetailInfo: "科技园科苑路 15 号", PostalCode: "518057", NationalCode: "440305"},
	{ProvinceName: "浙江省", CityName: "杭州市", CountryName: "西湖区", DetailInfo: "文三路 90 号 2 单元 301", PostalCode: "310012", NationalCode: "330106"},
	{ProvinceName: "北京市", CityName: "北京市", CountryName: "朝阳区", DetailInfo: "建国路 88 号 SOHO 现代城", PostalCode: "100022", NationalCode: "110105"},
	{ProvinceName: "四川省", CityName: "成都市", CountryName: "武侯区", DetailInfo: "人民南路四段 12 号", PostalCode: "610041", NationalCode: "510107"},
}

// defaultAddress is the saved address of the n-th simulated user, under their name.
func defaultAddress(name string, n int64) *Address {
	a := sampleAddresses[int(n)%len(sampleAddresses)]
	a.UserName = name
	a.TelNumber = fmt.Sprintf("139%08d", n%1e8)
	return &a
}

type addressPage struct {
	Title, Merchant, Error string
	Users                  []User
}

// pageAddress is the address book wx.openAddress opens (the bridge shows it in a sheet): the
// appid's users with their saved addresses; the tester taps whose phone this is. The choice
// goes back to the page through postMessage, as WeChat's callback does.
func (s *Server) pageAddress(w http.ResponseWriter, r *http.Request) {
	appID := r.URL.Query().Get("appid")
	s.mu.Lock()
	m := s.merchants[appID]
	var page addressPage
	if m != nil {
		page = addressPage{Title: "选择收货地址", Merchant: m.name}
		for _, u := range s.usersOf(appID) {
			page.Users = append(page.Users, s.publicUser(u))
		}
	}
	s.mu.Unlock()
	if m == nil {
		s.errorPage(w, http.StatusNotFound, "公众号不存在（wx.config 未完成？）")
		return
	}
	s.render(w, "address", page)
}
