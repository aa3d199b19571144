package campaign

import (
	"reflect"
	"testing"
)

// The in-memory walk counts generations as the recursive SQL walk it replaced did, loops and
// chains deeper than maxGeneration included.
func TestShareTreeGenerations(t *testing.T) {
	chain := shareTree{1: {}}
	for id := int64(2); id <= maxGeneration+2; id++ {
		chain[id] = person{sharer: id - 1, bought: id%2 == 0}
	}
	for _, tc := range []struct {
		name string
		tree shareTree
		want []Generation
	}{
		{"empty", shareTree{}, []Generation{}},
		{"tree", shareTree{
			1: {bought: true}, 2: {sharer: 1, bought: true}, 3: {sharer: 2, bought: true}, 4: {sharer: 3},
			5: {sharer: 1, bought: true}, 6: {}, 7: {sharer: 6, bought: true},
		}, []Generation{{1, 2, 1}, {2, 3, 3}, {3, 1, 1}, {4, 1, 0}}},
		// 2 and 3 opened each other's links; 4 was brought by 3: nobody reaches them from a root.
		{"loop", shareTree{1: {}, 2: {sharer: 3, bought: true}, 3: {sharer: 2}, 4: {sharer: 3, bought: true}, 5: {sharer: 1}},
			[]Generation{{1, 4, 2}, {2, 1, 0}}},
		{"self-loop of one", shareTree{1: {sharer: 1}}, []Generation{{1, 1, 0}}},
		// Generations 1..100 each have one person; the 101st and 102nd count as generation 1.
		{"deeper than the walk", chain, func() []Generation {
			g := []Generation{{1, 3, 1}}
			for n := 2; n <= maxGeneration; n++ {
				g = append(g, Generation{n, 1, 1 - n%2})
			}
			return g
		}()},
	} {
		if got := tc.tree.generations(); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	if n := (shareTree{2: {sharer: 1}, 3: {sharer: 1}, 4: {sharer: 2}}).bound(1); n != 2 {
		t.Errorf("bound to 1: %d, want 2", n)
	}
}
