"""The engine, which runs without pytest: planning and running suites (engine, generation,
conditions, judge_views), the record store and its xdist claims (store, claims, shards),
suites and their one schema (suites, config_suites, yaml_bounded), statistics (stats,
regression), the registry machinery (registry, plugins) and small shared parts (settings,
progress, images, sanitize, bundled, project_commands). Nothing here imports pytest."""
