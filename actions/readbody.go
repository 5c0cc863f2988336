package actions

import "io"

// readBody reads r to its end, or to one byte past MaxResponseBody. size is the
// answer's Content-Length (-1 when unknown): a buffer that size, plus one byte to see
// the end without growing, is read into first, so that a typical small answer takes
// one allocation of its own size. Only up to 64 KB is taken on the length's word:
// past that the buffer grows as the body comes, so a length that lies costs little.
func readBody(r io.Reader, size int64) ([]byte, error) {
	const limit = MaxResponseBody + 1
	n := int64(512) // as io.ReadAll starts
	if size >= 0 {
		n = min(size+1, 64<<10)
	}
	buf := make([]byte, 0, n)
	for {
		if len(buf) >= limit {
			return buf, nil
		}
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)] // grows as append does
		}
		m, err := r.Read(buf[len(buf):min(cap(buf), limit)])
		buf = buf[:len(buf)+m]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}
