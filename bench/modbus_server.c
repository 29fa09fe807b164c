/* Benchmark Modbus TCP server: holding and input registers full of float32 values that change
 * once a second, for any unit id, to many clients at once, at little CPU.
 *
 *   modbus_server PORT [REGISTERS]      listens on 127.0.0.1:PORT; REGISTERS default 10000
 *
 * Register pair (2k, 2k+1) holds the float32 k + ticks/1000 big-endian (ABCD), where ticks
 * counts the seconds since start. One thread, poll() over the listening socket and every
 * client; libmodbus parses each request and answers it. Prints "ready" once listening.
 * Built and started by bench/cserver.py against Debian's libmodbus-dev. */
#include <errno.h>
#include <modbus.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_CLIENTS 256

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void fill(modbus_mapping_t *map, int registers, long ticks) {
    for (int k = 0; 2 * k + 1 < registers; k++) {
        float value = (float)k + (float)ticks / 1000.0f;
        uint32_t bits;
        memcpy(&bits, &value, sizeof bits);
        map->tab_registers[2 * k] = map->tab_input_registers[2 * k] = (uint16_t)(bits >> 16);
        map->tab_registers[2 * k + 1] = map->tab_input_registers[2 * k + 1] = (uint16_t)bits;
    }
}

/* Drop client i: close it and move the last one into its slot. */
static void drop(struct pollfd *fds, int *count, int i) {
    close(fds[i].fd);
    fds[i] = fds[--*count];
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s PORT [REGISTERS]\n", argv[0]);
        return 2;
    }
    int port = atoi(argv[1]);
    int registers = argc > 2 ? atoi(argv[2]) : 10000;
    if (registers < 2 || registers > 65535) {
        fprintf(stderr, "REGISTERS must be 2..65535\n");
        return 2;
    }
    modbus_t *ctx = modbus_new_tcp("127.0.0.1", port);
    modbus_mapping_t *map = modbus_mapping_new(0, 0, registers, registers);
    if (ctx == NULL || map == NULL) {
        fprintf(stderr, "libmodbus: %s\n", modbus_strerror(errno));
        return 1;
    }
    int server = modbus_tcp_listen(ctx, 64);
    if (server < 0) {
        fprintf(stderr, "listen on %d: %s\n", port, modbus_strerror(errno));
        return 1;
    }
    long ticks = 0;
    fill(map, registers, ticks);
    double next_tick = now_s() + 1.0;
    printf("ready\n");
    fflush(stdout);

    struct pollfd fds[MAX_CLIENTS + 1];
    int count = 1; /* fds[0] is the listening socket */
    fds[0].fd = server;
    fds[0].events = POLLIN;
    uint8_t query[MODBUS_TCP_MAX_ADU_LENGTH];
    for (;;) {
        int wait_ms = (int)((next_tick - now_s()) * 1000.0) + 1;
        int ready = poll(fds, count, wait_ms > 0 ? wait_ms : 0);
        if (ready < 0 && errno != EINTR) {
            perror("poll");
            return 1;
        }
        if (now_s() >= next_tick) { /* new values once a second, not per request */
            fill(map, registers, ++ticks);
            next_tick += 1.0;
        }
        for (int i = count - 1; ready > 0 && i >= 1; i--) {
            if (fds[i].revents == 0) continue;
            ready--;
            modbus_set_socket(ctx, fds[i].fd);
            int length = modbus_receive(ctx, query);
            if (length > 0) {
                modbus_reply(ctx, query, length, map);
            } else if (length < 0) { /* closed by the client, or a broken request */
                drop(fds, &count, i);
            }
        }
        if (fds[0].revents & POLLIN) {
            int listener = server;
            int client = modbus_tcp_accept(ctx, &listener);
            if (client >= 0 && count <= MAX_CLIENTS) {
                fds[count].fd = client;
                fds[count].events = POLLIN;
                fds[count].revents = 0;
                count++;
            } else if (client >= 0) {
                close(client);
            }
        }
    }
}
