package infra

// Restarts is how often the supervisor restarted the child.
func (w *Warehouse) Restarts() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.restarts
}
