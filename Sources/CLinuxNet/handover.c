#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include "CLinuxNet.h"

static int unix_address(const char *path, struct sockaddr_un *address) {
    memset(address, 0, sizeof(*address));
    address->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(address->sun_path)) return -ENAMETOOLONG;
    strcpy(address->sun_path, path);
    return 0;
}

int weft_handover_listen(const char *path) {
    char temporary[sizeof(((struct sockaddr_un *)0)->sun_path)];
    if (snprintf(temporary, sizeof(temporary), "%s.%d", path, (int)getpid()) >= (int)sizeof(temporary))
        return -ENAMETOOLONG;
    struct sockaddr_un address;
    int error = unix_address(temporary, &address);
    if (error) return error;
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    unlink(temporary);
    if (bind(fd, (struct sockaddr *)&address, sizeof(address)) != 0 || chmod(temporary, 0600) != 0 ||
        listen(fd, 8) != 0 || rename(temporary, path) != 0) {
        error = -errno;
        unlink(temporary);
        close(fd);
        return error;
    }
    return fd;
}

int weft_handover_connect(const char *path) {
    struct sockaddr_un address;
    int error = unix_address(path, &address);
    if (error) return error;
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    if (connect(fd, (struct sockaddr *)&address, sizeof(address)) != 0) {
        error = -errno;
        close(fd);
        return error;
    }
    return fd;
}

static int wait_readable(int fd, int timeout_ms) {
    struct pollfd entry = {.fd = fd, .events = POLLIN};
    int ready;
    do ready = poll(&entry, 1, timeout_ms);
    while (ready < 0 && errno == EINTR);
    if (ready < 0) return -errno;
    return ready == 0 ? -EAGAIN : 0;
}

int weft_handover_accept(int fd, int timeout_ms) {
    int error = wait_readable(fd, timeout_ms);
    if (error) return error;
    int connection = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
    return connection < 0 ? -errno : connection;
}

int weft_handover_peer(int fd, uint32_t *uid, int32_t *pid) {
    struct ucred credentials;
    socklen_t length = sizeof(credentials);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0) return -errno;
    *uid = credentials.uid;
    *pid = credentials.pid;
    return 0;
}

int weft_handover_send(int fd, const void *data, int length, const int *fds, int count) {
    if (count < 0 || count > WEFT_HANDOVER_MAX_FDS) return -EINVAL;
    struct iovec vector = {.iov_base = (void *)data, .iov_len = (size_t)length};
    char control[CMSG_SPACE(sizeof(int) * WEFT_HANDOVER_MAX_FDS)];
    memset(control, 0, sizeof(control));
    struct msghdr message = {.msg_iov = &vector, .msg_iovlen = 1};
    if (count > 0) {
        message.msg_control = control;
        message.msg_controllen = CMSG_SPACE(sizeof(int) * count);
        struct cmsghdr *header = CMSG_FIRSTHDR(&message);
        header->cmsg_level = SOL_SOCKET;
        header->cmsg_type = SCM_RIGHTS;
        header->cmsg_len = CMSG_LEN(sizeof(int) * count);
        memcpy(CMSG_DATA(header), fds, sizeof(int) * count);
    }
    ssize_t sent;
    do sent = sendmsg(fd, &message, MSG_NOSIGNAL);
    while (sent < 0 && errno == EINTR);
    return sent < 0 ? -errno : (int)sent;
}

int weft_handover_receive(int fd, void *data, int capacity, int *fds, int *count, int timeout_ms) {
    *count = 0;
    int error = wait_readable(fd, timeout_ms);
    if (error) return error;
    struct iovec vector = {.iov_base = data, .iov_len = (size_t)capacity};
    char control[CMSG_SPACE(sizeof(int) * WEFT_HANDOVER_MAX_FDS)];
    struct msghdr message = {
        .msg_iov = &vector, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof(control)};
    ssize_t received;
    do received = recvmsg(fd, &message, MSG_CMSG_CLOEXEC);
    while (received < 0 && errno == EINTR);
    if (received < 0) return -errno;
    for (struct cmsghdr *header = CMSG_FIRSTHDR(&message); header; header = CMSG_NXTHDR(&message, header)) {
        if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) continue;
        int n = (int)((header->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        for (int i = 0; i < n; i++) {
            int received_fd;
            memcpy(&received_fd, CMSG_DATA(header) + sizeof(int) * i, sizeof(int));
            if (*count < WEFT_HANDOVER_MAX_FDS) fds[(*count)++] = received_fd;
            else close(received_fd);
        }
    }
    if (message.msg_flags & (MSG_CTRUNC | MSG_TRUNC)) {
        for (int i = 0; i < *count; i++) close(fds[i]);
        *count = 0;
        return -EMSGSIZE;
    }
    return (int)received;
}
