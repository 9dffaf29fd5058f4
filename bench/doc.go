// Package bench is the benchmark harness (`make bench`): a dataset
// generator, the floor (tiny hand-written net/http + pgx handlers serving the
// same data with the same SQL), and a closed-loop load generator that runs
// portald, the floor and PostGraphile v4/v5 side by side and writes
// BENCHMARKS.md. See bench/run.sh.
package bench
