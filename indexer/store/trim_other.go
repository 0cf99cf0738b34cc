//go:build !linux

package store

import "errors"

// trimmer does nothing off Linux: the kernel interface it needs
// (/proc/self/maps, MADV_PAGEOUT) is Linux's.
type trimmer struct{}

func newTrimmer(string, int64) (*trimmer, error) { return &trimmer{}, nil }

func (*trimmer) trim() (int64, error) { return 0, errTrimUnsupported }

func (*trimmer) setBudget(int64) {}

var errTrimUnsupported = errors.New("trimming mapped pages needs Linux")
