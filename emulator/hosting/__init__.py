"""Real-time hosting: endpoint containers, their health, and the routing of invocations to them."""
