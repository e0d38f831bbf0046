package warehouse

import (
	"fmt"
	"sync"
	"time"
)

// session is a handle kept between requests with the same session_id, so USE,
// SET and temporary tables persist as in ClickHouse HTTP sessions.
type session struct {
	id       string
	owner    *sessions
	mu       sync.Mutex // held by the request using the session
	conn     Conn
	timeout  time.Duration // guarded by mu
	lastUsed time.Time     // guarded by mu
	state    handleState   // guarded by mu
	// drop ends the session when the request using it is done: its handle
	// no longer holds what the session set.
	drop bool // guarded by mu
}

func (s *session) release() {
	s.lastUsed = time.Now()
	drop := s.drop
	s.mu.Unlock()
	if drop {
		s.owner.close(s.id)
	}
}

type sessions struct {
	engine Engine
	mu     sync.Mutex
	byID   map[string]*session
}

func newSessions(engine Engine) *sessions {
	return &sessions{engine: engine, byID: map[string]*session{}}
}

// acquire locks the session, creating it unless check is set. A session in use
// by another request is an error, as in ClickHouse.
func (ss *sessions) acquire(id string, check bool, timeout time.Duration) (*session, error) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s, ok := ss.byID[id]
	if !ok {
		if check {
			return nil, &Exception{Code: codeSessionNotFound, Message: fmt.Sprintf("Session %s not found. (SESSION_NOT_FOUND)", id)}
		}
		conn, err := ss.engine.Open()
		if err != nil {
			return nil, err
		}
		s = &session{id: id, owner: ss, conn: conn}
		ss.byID[id] = s
	}
	if !s.mu.TryLock() {
		return nil, &Exception{Code: codeSessionIsLocked, Message: fmt.Sprintf("Session %s is locked by a concurrent client. (SESSION_IS_LOCKED)", id)}
	}
	s.timeout = timeout
	return s, nil
}

// expire closes idle sessions whose timeout has passed.
func (ss *sessions) expire(now time.Time) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for id, s := range ss.byID {
		if !s.mu.TryLock() {
			continue // in use
		}
		if now.Sub(s.lastUsed) > s.timeout {
			delete(ss.byID, id)
			s.conn.Close()
		}
		s.mu.Unlock()
	}
}

// close ends the session id once its current request is done (close_session=1).
func (ss *sessions) close(id string) {
	ss.mu.Lock()
	s, ok := ss.byID[id]
	if ok {
		delete(ss.byID, id)
	}
	ss.mu.Unlock()
	if ok {
		s.mu.Lock()
		s.conn.Close()
		s.mu.Unlock()
	}
}

func (ss *sessions) closeAll() {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for id, s := range ss.byID {
		s.mu.Lock()
		s.conn.Close()
		delete(ss.byID, id)
		s.mu.Unlock()
	}
}
