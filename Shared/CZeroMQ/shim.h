#ifndef CZEROMQ_SHIM_H
#define CZEROMQ_SHIM_H
#include <zmq.h>
#include <sys/eventfd.h>
#include <poll.h>
#include <sys/prctl.h>

/* zmq_setsockopt takes a void pointer; these typed helpers keep Swift call sites honest. */
static inline int czmq_setsockopt_int(void *socket, int option, int value) {
    return zmq_setsockopt(socket, option, &value, sizeof(value));
}
static inline int czmq_getsockopt_int(void *socket, int option, int *value) {
    size_t size = sizeof(*value);
    return zmq_getsockopt(socket, option, value, &size);
}
/* Names the calling thread (as top and perf show it); prctl is variadic, so Swift cannot call it. */
static inline void czmq_name_current_thread(const char *name) {
    prctl(PR_SET_NAME, name, 0, 0, 0);
}
#endif
