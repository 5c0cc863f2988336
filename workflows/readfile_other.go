//go:build !unix

package workflows

// openNonBlocking is none where named pipes do not sit among files.
const openNonBlocking = 0
