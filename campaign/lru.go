package campaign

import (
	"container/list"
	"sync"
)

// lru keeps the most recently used values up to a total cost (bytes, or a count when every
// value costs 1). Safe for concurrent use. The posters use two: the finished PNGs in front
// of PostgreSQL, and the per-campaign part of the drawing.
type lru[V any] struct {
	mu    sync.Mutex
	max   int
	used  int
	cost  func(V) int
	order *list.List // front: most recent
	by    map[string]*list.Element
}

type lruEntry[V any] struct {
	key  string
	val  V
	cost int
}

func newLRU[V any](max int, cost func(V) int) *lru[V] {
	return &lru[V]{max: max, cost: cost, order: list.New(), by: map[string]*list.Element{}}
}

func (c *lru[V]) get(key string) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.by[key]
	if !ok {
		var zero V
		return zero, false
	}
	c.order.MoveToFront(e)
	return e.Value.(*lruEntry[V]).val, true
}

// remove drops key's value, if kept.
func (c *lru[V]) remove(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.by[key]; ok {
		c.used -= e.Value.(*lruEntry[V]).cost
		c.order.Remove(e)
		delete(c.by, key)
	}
}

// put stores val under key, dropping the least recently used values past the budget. A value
// costing more than the whole budget is not kept.
func (c *lru[V]) put(key string, val V) {
	cost := c.cost(val)
	if cost > c.max {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.by[key]; ok {
		c.used -= e.Value.(*lruEntry[V]).cost
		c.order.Remove(e)
	}
	c.by[key] = c.order.PushFront(&lruEntry[V]{key: key, val: val, cost: cost})
	c.used += cost
	for c.used > c.max {
		old := c.order.Back()
		c.order.Remove(old)
		oe := old.Value.(*lruEntry[V])
		delete(c.by, oe.key)
		c.used -= oe.cost
	}
}
