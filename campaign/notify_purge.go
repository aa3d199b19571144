package campaign

import (
	"context"
	"fmt"

	"fenxiao/wallet"
)

// notePurgeBatch bounds the rows one purge statement deletes, so the job holds few locks at a
// time however large the outbox has grown.
const notePurgeBatch = 5000

// PurgeNotifications deletes the notifications the sending job finished (sent, or given up)
// more than wallet.NoteKeep ago, once their key can no longer come again: a key is only what
// keeps an event from being told twice, so it must outlive the event's chance to recur. Most
// keys are written by a one-time change of state (a payment, a commission, a refund, a packet
// sent or returned, a verified code) and may go. Two are kept longer:
//   - opened:<campaign>:… ("a friend opened my share", written when a binding is): until the
//     campaign ended wallet.NoteKeep ago, since a friend switching between two sharers' links
//     would otherwise tell the first again;
//   - shipped:order:<id>… (written when an order ships or its tracking is corrected): while
//     the order is still shipped, so corrections stay counted against maxShippedNotes.
func (s *Service) PurgeNotifications(ctx context.Context) (int, error) {
	cutoff := s.now().Add(-wallet.NoteKeep)
	total := 0
	for {
		res, err := s.db.ExecContext(ctx, `
DELETE FROM notifications WHERE id IN (
    SELECT n.id FROM notifications n
    WHERE n.sent_at IS NOT NULL AND n.sent_at < $1
      AND NOT (n.msg_key LIKE 'opened:%' AND EXISTS (SELECT 1 FROM campaigns c
          WHERE c.id = split_part(n.msg_key, ':', 2)::bigint AND c.ends_at > $1))
      AND NOT (n.msg_key LIKE 'shipped:order:%' AND EXISTS (SELECT 1 FROM orders o
          WHERE o.id = split_part(n.msg_key, ':', 3)::bigint AND o.fulfil_state = 'shipped'))
    LIMIT $2)`, cutoff, notePurgeBatch)
		if err != nil {
			return total, fmt.Errorf("campaign: purge notifications: %w", err)
		}
		n, _ := res.RowsAffected()
		total += int(n)
		if n < notePurgeBatch || ctx.Err() != nil {
			return total, ctx.Err()
		}
	}
}
