"""Progressive delivery for workloads: the pure rollout engine (`rollouts.engine`, its API re-exported there),
the traffic routers (`rollouts.traffic`) and the analysis providers (`rollouts.analysis`). The state a rollout
keeps in status is `api.rollout_state.RolloutState`."""
