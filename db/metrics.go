package db

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Collectors exposes the pool's state and the statements counted by counter
// (nil: no statement metric) as Prometheus metrics.
func (db *DB) Collectors(counter *StatementCounter) []prometheus.Collector {
	stat := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	}
	cs := []prometheus.Collector{
		stat("portal_db_pool_total_conns", "Connections in the pool.", func() float64 { return float64(db.pool.Stat().TotalConns()) }),
		stat("portal_db_pool_idle_conns", "Idle connections in the pool.", func() float64 { return float64(db.pool.Stat().IdleConns()) }),
		stat("portal_db_pool_acquired_conns", "Connections in use.", func() float64 { return float64(db.pool.Stat().AcquiredConns()) }),
		stat("portal_db_pool_max_conns", "Pool size limit.", func() float64 { return float64(db.pool.Stat().MaxConns()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "portal_db_pool_acquire_total", Help: "Connection acquisitions."},
			func() float64 { return float64(db.pool.Stat().AcquireCount()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "portal_db_pool_acquire_wait_seconds_total", Help: "Time spent waiting for a connection."},
			func() float64 { return db.pool.Stat().AcquireDuration().Seconds() }),
	}
	if counter != nil {
		cs = append(cs, prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "portal_db_statements_total", Help: "SQL statements sent."},
			func() float64 { return float64(counter.Count()) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "portal_db_sends_total", Help: "Statements sent alone plus batches of statements sent: the waits on the database."},
				func() float64 { return float64(counter.Sends()) }))
	}
	return cs
}
