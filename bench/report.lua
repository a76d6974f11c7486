-- wrk script: prints the run's figures as one JSON line after wrk's own report.
-- `wrk --latency` shows p50/p75/p90/p99 only, and the benchmark also needs p95.
-- No request/response callbacks, so the load generator stays as cheap as plain wrk.

done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%.0f,"duration_us":%.0f,"bytes":%.0f,' ..
    '"connect_errors":%.0f,"read_errors":%.0f,"write_errors":%.0f,"status_errors":%.0f,"timeouts":%.0f,' ..
    '"mean_us":%.1f,"stdev_us":%.1f,"max_us":%.0f,' ..
    '"p50_us":%.0f,"p75_us":%.0f,"p90_us":%.0f,"p95_us":%.0f,"p99_us":%.0f}\n',
    summary.requests, summary.duration, summary.bytes,
    errors.connect, errors.read, errors.write, errors.status, errors.timeout,
    latency.mean, latency.stdev, latency.max,
    latency:percentile(50), latency:percentile(75), latency:percentile(90),
    latency:percentile(95), latency:percentile(99)))
end
