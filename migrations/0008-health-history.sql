-- Node health history (issue 16): a ring per node written by the health monitor
-- (src/health/monitor.ts). Raw samples at the monitor's interval (OMS_HEALTH_INTERVAL, 10 s by
-- default) for OMS_HEALTH_RAW_HOURS (24 h); 5-minute rollups (average, and the maximum where a
-- peak matters) for OMS_HEALTH_KEEP_DAYS (30 days). The housekeeping sweep rolls finished
-- 5-minute buckets up, then drops raw rows past their hours, rollups past their days, and rows
-- of nodes no longer signed: each table holds at most (retention / period) rows per node.
-- Times are unix milliseconds. Metric values are NULL when not measured (node unreachable,
-- first sample after a reconnect for the rates).

CREATE TABLE health_samples (
  node       TEXT NOT NULL,
  time       INTEGER NOT NULL,
  reachable  INTEGER NOT NULL,                -- 1 answered, 0 did not
  load       REAL,                            -- 1-minute load average
  cpu        REAL,                            -- percent busy, all CPUs
  memory     REAL,                            -- percent used
  disk       REAL,                            -- percent of the root filesystem used
  net_rx     REAL,                            -- bytes/s, all interfaces but loopback
  net_tx     REAL,
  rolled     INTEGER NOT NULL DEFAULT 0,      -- 1 once its 5-minute bucket was rolled up
  PRIMARY KEY (node, time)
) WITHOUT ROWID;
-- The sweep's work list: rows not rolled up yet (few, the last minutes), and pruning by age.
CREATE INDEX health_samples_unrolled ON health_samples(time) WHERE rolled = 0;
CREATE INDEX health_samples_time ON health_samples(time);

CREATE TABLE health_rollups (
  node        TEXT NOT NULL,
  time        INTEGER NOT NULL,               -- bucket start, a multiple of 300000
  samples     INTEGER NOT NULL,               -- raw rows in the bucket
  up          INTEGER NOT NULL,               -- of which the node answered
  reachable   REAL NOT NULL,                  -- up / samples
  load        REAL, load_max   REAL,
  cpu         REAL, cpu_max    REAL,
  memory      REAL, memory_max REAL,
  disk        REAL,
  net_rx      REAL, net_rx_max REAL,
  net_tx      REAL, net_tx_max REAL,
  PRIMARY KEY (node, time)
) WITHOUT ROWID;
CREATE INDEX health_rollups_time ON health_rollups(time);
