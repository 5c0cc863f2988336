package workflows

// PollState is what is kept of a poll trigger between its polls: the cursor its last
// good poll gave, and whether its first poll is still recording what was there.
type PollState struct {
	// Cursor is what the poll's cursor read from the answer of its last good poll:
	// the next poll's templates read it as poll.cursor.
	Cursor any
	// Recording says that the poll's first (without backfill) has not read its list
	// to the end yet: the next poll goes on recording what is there from Cursor, and
	// starts nothing.
	Recording bool
	// Empty is how many answers in a row with no items a poll's first that still
	// records has had, over its polls: an API that answers no items with a new cursor
	// for ever ends it after some, however few each poll has time for.
	Empty int
}
