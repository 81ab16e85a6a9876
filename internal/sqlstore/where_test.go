package sqlstore

import (
	"fmt"
	"testing"

	"github.com/labhooks/labhooks"
)

func TestWhere(t *testing.T) {
	status, bogus := labhooks.DeliveryFailed, labhooks.DeliveryStatus("x' OR '1'='1")
	for _, tt := range []struct {
		name string
		w    func() (*where, error)
		want string
		args string
	}{
		{"no data link filter", func() (*where, error) { return dataLinkWhere(labhooks.DataLinkFilter{}), nil }, "", "[]"},
		{"links of a partner, by ID", func() (*where, error) {
			return dataLinkWhere(labhooks.DataLinkFilter{PartnerID: new("ptn_1"), IDs: []string{"dl_1", "dl_2"}}), nil
		}, "WHERE partner_id = $1 AND id IN ($2, $3)", "[ptn_1 dl_1 dl_2]"},
		{"no IDs", func() (*where, error) { return dataLinkWhere(labhooks.DataLinkFilter{IDs: []string{}}), nil }, "WHERE 1 = 0", "[]"},
		{"no delivery filter", func() (*where, error) { return deliveryWhere(labhooks.DeliveryFilter{}) }, "", "[]"},
		{"every delivery filter", func() (*where, error) {
			return deliveryWhere(labhooks.DeliveryFilter{PartnerID: new("p"), DataLinkID: new("l"), EventID: new("e"), EventName: new("n"),
				Status: &status, Before: new("dlv_9"), Limit: 10})
		}, "WHERE partner_id = $1 AND datalink_id = $2 AND event_id = $3 AND event_name = $4 AND status = 'failed' AND id < $5", "[p l e n dlv_9]"},
	} {
		w, err := tt.w()
		if err != nil || w.String() != tt.want || fmt.Sprint(w.args) != tt.args {
			t.Errorf("%s: %q %v, %v; want %q %s", tt.name, w.String(), w.args, err, tt.want, tt.args)
		}
	}
	if _, err := deliveryWhere(labhooks.DeliveryFilter{Status: &bogus}); labhooks.ErrorCode(err) != labhooks.EInvalid {
		t.Errorf("an unknown status: %v, want %s", err, labhooks.EInvalid)
	}
}
