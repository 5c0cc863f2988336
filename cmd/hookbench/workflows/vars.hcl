# Where hookbench's sink listens; every benchmark workflow delivers there. Set
# HOOKBENCH_SINK when the sink runs elsewhere (hookbench --sink ADDR or --sink-only).
vars {
  sink = env("HOOKBENCH_SINK", "http://127.0.0.1:9999")
}
