package campaign

import (
	"context"
	"database/sql"
	"sort"
)

// peopleSQL lists everyone who took part in a campaign (visited, was bound or bought; the
// sharers of bindings are added by shareTree) with the sharer they are bound to and whether
// they bought. It reads each table of the campaign once; the walk of the tree is done by
// shareTree in memory, as PostgreSQL's recursive walk of the same bindings took 0.4-0.9 s at
// 100k orders (a hash join per generation over rows it estimated in billions).
const peopleSQL = `
SELECT COALESCE(b.visitor_id, v.visitor_id, o.buyer_id) AS id, b.sharer_id, o.buyer_id IS NOT NULL AS bought
FROM (SELECT visitor_id FROM visits WHERE campaign_id = $1) v
FULL JOIN (SELECT visitor_id, sharer_id FROM bindings WHERE campaign_id = $1) b ON b.visitor_id = v.visitor_id
FULL JOIN (SELECT DISTINCT buyer_id FROM orders WHERE campaign_id = $1 AND status IN ('paid', 'refunded')) o
       ON o.buyer_id = COALESCE(b.visitor_id, v.visitor_id)`

// maxGeneration is the deepest generation the walk counts; anyone deeper counts as generation
// 1, like the people on a loop of bindings: nobody in the data is shown to have brought them.
const maxGeneration = 100

// person is one participant of the share tree: the sharer they are bound to (0: none).
type person struct {
	sharer int64
	bought bool
}

// shareTree is a campaign's participants by id.
type shareTree map[int64]person

func (s *Service) shareTree(ctx context.Context, campaignID int64) (shareTree, error) {
	rows, err := s.db.QueryContext(ctx, peopleSQL, campaignID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	tree := shareTree{}
	var sharers []int64
	for rows.Next() {
		var id int64
		var sharer sql.NullInt64
		var p person
		if err := rows.Scan(&id, &sharer, &p.bought); err != nil {
			return nil, err
		}
		p.sharer = sharer.Int64
		tree[id] = p
		if sharer.Valid {
			sharers = append(sharers, sharer.Int64)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, id := range sharers {
		if _, ok := tree[id]; !ok {
			tree[id] = person{} // a sharer who neither visited nor bought, and is bound to nobody
		}
	}
	return tree, nil
}

// bound counts the visitors bound to sharer.
func (t shareTree) bound(sharer int64) int {
	n := 0
	for _, p := range t {
		if p.sharer == sharer {
			n++
		}
	}
	return n
}

// generations counts people and buyers per generation: whoever is bound to nobody is
// generation 1, whoever is bound to a person of generation g is g+1. A binding names one
// sharer per visitor, so each person has one chain of sharers above them; a chain that loops
// (A opened B's link after B had opened A's) or runs deeper than maxGeneration reaches no
// root, and its people count as generation 1.
func (t shareTree) generations() []Generation {
	const unreached, climbing = -1, -2
	gen := make(map[int64]int, len(t))
	var path []int64
	for id := range t {
		// Climb to a person whose generation is known or who is bound to nobody, then hand
		// the generations down the path climbed.
		path = path[:0]
		x := id
		for {
			if _, known := gen[x]; known {
				break
			}
			if t[x].sharer == 0 {
				gen[x] = 1
				break
			}
			gen[x] = climbing
			path = append(path, x)
			x = t[x].sharer
		}
		g := gen[x]
		if g == climbing { // x is on this very path: a loop
			g = unreached
		}
		for i := len(path) - 1; i >= 0; i-- {
			if g != unreached {
				g++
				if g > maxGeneration {
					g = unreached
				}
			}
			gen[path[i]] = g
		}
	}
	byGen := map[int]*Generation{}
	for id, p := range t {
		g := max(gen[id], 1)
		row := byGen[g]
		if row == nil {
			row = &Generation{Gen: g}
			byGen[g] = row
		}
		row.People++
		if p.bought {
			row.Buyers++
		}
	}
	out := make([]Generation, 0, len(byGen))
	for _, row := range byGen {
		out = append(out, *row)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Gen < out[j].Gen })
	return out
}
