/* What vsock's three layers share: the connection ids and the counters. */
#ifndef HEARTH_VIRTIO_VSOCK_DEFS_H
#define HEARTH_VIRTIO_VSOCK_DEFS_H

#include <stdint.h>

/* Connections at once, host clients still in their handshake included. A
 * connection's id, in every layer, is its slot in the state machine's
 * table: 0 to VSOCK_MAX_CONNS - 1. */
#define VSOCK_MAX_CONNS 64

/* Firecracker's vsock metrics, one struct the device owns and every layer
 * counts into (under the transport lock), each what it alone sees:
 * - the virtio half: rx_packets_count, tx_packets_count (chains used);
 * - the state machine: rx_bytes_count, tx_bytes_count (payload a
 *   connection took), conns_killed;
 * - the socket backend: conns_added, conns_removed (sockets watched and
 *   closed), tx_write_fails, rx_read_fails. */
struct vsock_stats {
    uint64_t rx_packets_count, tx_packets_count, rx_bytes_count, tx_bytes_count;
    uint64_t conns_added, conns_killed, conns_removed, tx_write_fails, rx_read_fails;
};

#endif
