"""arq + Redis: enqueue, worker, job events, results, per-user limits."""
