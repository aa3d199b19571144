package campaign_test

import (
	"errors"
	"strings"
	"testing"

	"fenxiao/campaign"
)

// A file refused whole says why: too large, a heading without a needed column, nothing in it.
func TestParseShipmentsRefusesFiles(t *testing.T) {
	for name, tc := range map[string]struct{ data, want string }{
		"too large":  {strings.Repeat("x", campaign.MaxShipmentBytes+1), "文件超过 1024 KB"},
		"no column":  {"订单号,快递公司\nFX1,顺丰", "表头缺少「快递单号」列"},
		"empty":      {"\uFEFF订单号,快递公司,快递单号\n,,\n", "没有要发货的行"},
		"not a file": {"\"FX1,顺丰\n\x00", ""},
	} {
		_, err := campaign.ParseShipments([]byte(tc.data))
		if tc.want == "" {
			continue // whatever it makes of it, it must not panic
		}
		if !errors.Is(err, campaign.ErrShipmentFile) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want …%s…", name, err, tc.want)
		}
	}
	rows, err := campaign.ParseShipments([]byte("备注,订单号,快递单号,快递公司\n x ,\tFX1\t,=\"773012345678901\",'顺丰\n"))
	if err != nil || len(rows) != 1 || rows[0].OrderNo != "FX1" || rows[0].TrackingNo != "773012345678901" || rows[0].Carrier != "顺丰" || rows[0].Line != 2 {
		t.Fatalf("columns by heading: %+v %v", rows, err)
	}
}
