//go:build !race

package metrics

// raceEnabled says that the tests run under the race detector.
const raceEnabled = false
