#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/xattr.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/inet_diag.h>
#include <linux/rtnetlink.h>
#include <arpa/inet.h>

/* From <linux/netfilter_ipv4.h> and <linux/netfilter_ipv6/ip6_tables.h>, which clash with glibc's <netinet/in.h>. */
#define SO_ORIGINAL_DST 80
#define IP6T_SO_ORIGINAL_DST 80
#include "CLinuxNet.h"

const int WEFT_SOL_IP = SOL_IP;
const int WEFT_SOL_IPV6 = SOL_IPV6;
const int WEFT_SO_ORIGINAL_DST = SO_ORIGINAL_DST;
const int WEFT_IP6T_SO_ORIGINAL_DST = IP6T_SO_ORIGINAL_DST;

int weft_cgroup_path(int mount_fd, uint64_t id, char *out, int capacity) {
    struct {
        struct file_handle handle;
        uint64_t id;
    } kernfs;
    memset(&kernfs, 0, sizeof(kernfs));
    kernfs.handle.handle_bytes = sizeof(uint64_t);
    kernfs.handle.handle_type = 0xfe; /* FILEID_KERNFS */
    memcpy(kernfs.handle.f_handle, &id, sizeof(id));
    int fd = open_by_handle_at(mount_fd, &kernfs.handle, O_PATH | O_DIRECTORY);
    if (fd < 0) return -errno;
    char link[64], target[PATH_MAX], root[PATH_MAX];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    ssize_t length = readlink(link, target, sizeof(target) - 1);
    int saved = errno;
    close(fd);
    if (length < 0) return -saved;
    target[length] = 0;
    snprintf(link, sizeof(link), "/proc/self/fd/%d", mount_fd);
    ssize_t root_length = readlink(link, root, sizeof(root) - 1);
    if (root_length < 0) return -errno;
    root[root_length] = 0;
    const char *relative = target;
    if (strcmp(root, "/") != 0) {
        if (strncmp(target, root, (size_t)root_length) != 0) return -EXDEV;
        relative = target + root_length;
    }
    while (*relative == '/') relative++;
    int needed = (int)strlen(relative);
    if (needed + 1 > capacity) return -ENAMETOOLONG;
    memcpy(out, relative, (size_t)needed + 1);
    return needed;
}

int weft_has_xattr(const char *path, const char *name) {
    if (lgetxattr(path, name, NULL, 0) >= 0) return 1;
    return errno == ENODATA ? 0 : -errno;
}

int weft_setns_net(int fd) {
    return setns(fd, CLONE_NEWNET);
}

int weft_sock_diag_open(void) {
    int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (fd < 0) return -errno;
    struct timeval timeout = { .tv_sec = 2, .tv_usec = 0 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    return fd;
}

struct diag_request {
    struct nlmsghdr header;
    struct inet_diag_req_v2 body;
};

static int send_request(int fd, int family, uint16_t flags, uint32_t states, uint32_t seq,
                        const struct inet_diag_sockid *id) {
    struct diag_request request;
    memset(&request, 0, sizeof(request));
    request.header.nlmsg_len = sizeof(request);
    request.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    request.header.nlmsg_flags = NLM_F_REQUEST | flags;
    request.header.nlmsg_seq = seq;
    request.body.sdiag_family = (uint8_t)family;
    request.body.sdiag_protocol = IPPROTO_TCP;
    request.body.idiag_states = states;
    if (id) request.body.id = *id;
    struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
    ssize_t sent = sendto(fd, &request, sizeof(request), 0, (struct sockaddr *)&kernel, sizeof(kernel));
    if (sent < 0) return -errno;
    return 0;
}

static void fill_socket(const struct inet_diag_msg *msg, int payload_len, weft_tcp_socket *out) {
    memset(out, 0, sizeof(*out));
    out->family = msg->idiag_family;
    out->state = msg->idiag_state;
    int len = msg->idiag_family == AF_INET ? 4 : 16;
    memcpy(out->local_addr, msg->id.idiag_src, len);
    memcpy(out->remote_addr, msg->id.idiag_dst, len);
    out->local_port = ntohs(msg->id.idiag_sport);
    out->remote_port = ntohs(msg->id.idiag_dport);
    out->uid = msg->idiag_uid;
    out->inode = msg->idiag_inode;
    int attr_len = payload_len - NLMSG_ALIGN(sizeof(*msg));
    for (struct rtattr *attr = (struct rtattr *)((char *)msg + NLMSG_ALIGN(sizeof(*msg)));
         RTA_OK(attr, attr_len); attr = RTA_NEXT(attr, attr_len)) {
        if (attr->rta_type == INET_DIAG_CGROUP_ID && RTA_PAYLOAD(attr) >= sizeof(uint64_t)) {
            memcpy(&out->cgroup_id, RTA_DATA(attr), sizeof(uint64_t));
        }
    }
}

/* Reads answers to `seq` until NLMSG_DONE / an error / (for a single lookup) the first message. */
static int receive(int fd, uint32_t seq, int single, weft_tcp_socket *out, int capacity) {
    char buffer[32768] __attribute__((aligned(NLMSG_ALIGNTO)));
    int count = 0;
    for (;;) {
        ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        if (n == 0) return -EPIPE;
        int remaining = (int)n;
        for (struct nlmsghdr *h = (struct nlmsghdr *)buffer; NLMSG_OK(h, remaining); h = NLMSG_NEXT(h, remaining)) {
            if (h->nlmsg_seq != seq) continue;   /* a late answer to an earlier, timed-out request */
            if (h->nlmsg_type == NLMSG_DONE) return count;
            if (h->nlmsg_type == NLMSG_ERROR) {
                struct nlmsgerr *err = (struct nlmsgerr *)NLMSG_DATA(h);
                if (err->error == 0) return count;
                if (single && err->error == -ENOENT) return 0;
                return err->error;
            }
            if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY) continue;
            if (count < capacity) {
                fill_socket((struct inet_diag_msg *)NLMSG_DATA(h), (int)(h->nlmsg_len - NLMSG_LENGTH(0)), &out[count]);
            }
            count++;
            if (single) return 1;
        }
    }
}

static uint32_t next_sequence(void) {
    static _Atomic uint32_t sequence = 1;
    return sequence++;
}

int weft_sock_diag_lookup(int fd, int family,
                          const uint8_t *local_addr, uint16_t local_port,
                          const uint8_t *remote_addr, uint16_t remote_port,
                          weft_tcp_socket *out) {
    struct inet_diag_sockid id;
    memset(&id, 0, sizeof(id));
    int len = family == AF_INET ? 4 : 16;
    memcpy(id.idiag_src, local_addr, len);
    memcpy(id.idiag_dst, remote_addr, len);
    id.idiag_sport = htons(local_port);
    id.idiag_dport = htons(remote_port);
    id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
    id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
    uint32_t seq = next_sequence();
    int rc = send_request(fd, family, 0, 0xFFFFFFFF, seq, &id);
    if (rc < 0) return rc;
    return receive(fd, seq, 1, out, 1);
}

int weft_sock_diag_dump(int fd, int family, uint32_t state_mask, weft_tcp_socket *out, int capacity) {
    uint32_t seq = next_sequence();
    int rc = send_request(fd, family, NLM_F_DUMP, state_mask, seq, NULL);
    if (rc < 0) return rc;
    return receive(fd, seq, 0, out, capacity);
}
