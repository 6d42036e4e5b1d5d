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
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <sys/time.h>
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

/* ---- conntrack: the original tuple of a rewritten connection ---- */

static struct nlattr *put_attr(char *buffer, int *length, uint16_t type, const void *data, int size) {
    struct nlattr *attr = (struct nlattr *)(buffer + *length);
    attr->nla_type = type;
    attr->nla_len = (uint16_t)(NLA_HDRLEN + size);
    if (size) memcpy((char *)attr + NLA_HDRLEN, data, (size_t)size);
    *length += NLA_ALIGN(attr->nla_len);
    return attr;
}

static void end_nest(char *buffer, int length, struct nlattr *nest) {
    nest->nla_len = (uint16_t)((buffer + length) - (char *)nest);
}

/* The attribute of `type` among those in [data, data+size), or NULL. */
static const struct nlattr *find_attr(const char *data, int size, uint16_t type) {
    while (size >= NLA_HDRLEN) {
        const struct nlattr *attr = (const struct nlattr *)data;
        if (attr->nla_len < NLA_HDRLEN || attr->nla_len > size) return NULL;
        if ((attr->nla_type & NLA_TYPE_MASK) == type) return attr;
        int step = NLA_ALIGN(attr->nla_len);
        data += step;
        size -= step;
    }
    return NULL;
}

#define ATTR_DATA(a) ((const char *)(a) + NLA_HDRLEN)
#define ATTR_SIZE(a) ((int)(a)->nla_len - NLA_HDRLEN)

int weft_conntrack_original_source(int family,
                                   const uint8_t *reply_src, uint16_t reply_sport,
                                   const uint8_t *reply_dst, uint16_t reply_dport,
                                   uint8_t *out_addr, uint16_t *out_port) {
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
    if (fd < 0) return -errno;
    struct timeval bound = { .tv_sec = 1, .tv_usec = 0 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &bound, sizeof(bound));

    char request[256] __attribute__((aligned(NLMSG_ALIGNTO)));
    memset(request, 0, sizeof(request));
    struct nlmsghdr *header = (struct nlmsghdr *)request;
    header->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET;
    header->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
    uint32_t seq = next_sequence();
    header->nlmsg_seq = seq;
    struct nfgenmsg *gen = (struct nfgenmsg *)NLMSG_DATA(header);
    gen->nfgen_family = (uint8_t)family;
    gen->version = NFNETLINK_V0;
    int length = NLMSG_LENGTH(sizeof(struct nfgenmsg));
    int size = family == AF_INET ? 4 : 16;
    struct nlattr *tuple = put_attr(request, &length, CTA_TUPLE_REPLY | NLA_F_NESTED, NULL, 0);
    struct nlattr *ip = put_attr(request, &length, CTA_TUPLE_IP | NLA_F_NESTED, NULL, 0);
    put_attr(request, &length, family == AF_INET ? CTA_IP_V4_SRC : CTA_IP_V6_SRC, reply_src, size);
    put_attr(request, &length, family == AF_INET ? CTA_IP_V4_DST : CTA_IP_V6_DST, reply_dst, size);
    end_nest(request, length, ip);
    struct nlattr *proto = put_attr(request, &length, CTA_TUPLE_PROTO | NLA_F_NESTED, NULL, 0);
    uint8_t tcp = IPPROTO_TCP;
    uint16_t sport = htons(reply_sport), dport = htons(reply_dport);
    put_attr(request, &length, CTA_PROTO_NUM, &tcp, 1);
    put_attr(request, &length, CTA_PROTO_SRC_PORT, &sport, 2);
    put_attr(request, &length, CTA_PROTO_DST_PORT, &dport, 2);
    end_nest(request, length, proto);
    end_nest(request, length, tuple);
    header->nlmsg_len = (uint32_t)length;

    struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
    if (sendto(fd, request, (size_t)length, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0) {
        int saved = errno;
        close(fd);
        return -saved;
    }
    char buffer[8192] __attribute__((aligned(NLMSG_ALIGNTO)));
    int found = 0;
    for (;;) {
        ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            int saved = errno;
            close(fd);
            return -saved;
        }
        int remaining = (int)n;
        for (struct nlmsghdr *h = (struct nlmsghdr *)buffer; NLMSG_OK(h, remaining); h = NLMSG_NEXT(h, remaining)) {
            if (h->nlmsg_seq != seq) continue;
            if (h->nlmsg_type == NLMSG_ERROR) {
                struct nlmsgerr *err = (struct nlmsgerr *)NLMSG_DATA(h);
                close(fd);
                if (err->error == 0) return found;
                return err->error == -ENOENT ? 0 : err->error;
            }
            if (h->nlmsg_type == NLMSG_DONE) {
                close(fd);
                return found;
            }
            if ((h->nlmsg_type & 0xff) != IPCTNL_MSG_CT_NEW) continue;
            const char *attrs = (const char *)NLMSG_DATA(h) + NLMSG_ALIGN(sizeof(struct nfgenmsg));
            int attrs_size = (int)h->nlmsg_len - NLMSG_LENGTH(sizeof(struct nfgenmsg));
            const struct nlattr *orig = find_attr(attrs, attrs_size, CTA_TUPLE_ORIG);
            if (!orig) continue;
            const struct nlattr *orig_ip = find_attr(ATTR_DATA(orig), ATTR_SIZE(orig), CTA_TUPLE_IP);
            const struct nlattr *orig_proto = find_attr(ATTR_DATA(orig), ATTR_SIZE(orig), CTA_TUPLE_PROTO);
            if (!orig_ip || !orig_proto) continue;
            const struct nlattr *src = find_attr(ATTR_DATA(orig_ip), ATTR_SIZE(orig_ip),
                                                 family == AF_INET ? CTA_IP_V4_SRC : CTA_IP_V6_SRC);
            const struct nlattr *port = find_attr(ATTR_DATA(orig_proto), ATTR_SIZE(orig_proto), CTA_PROTO_SRC_PORT);
            if (!src || !port || ATTR_SIZE(src) != size || ATTR_SIZE(port) != 2) continue;
            memcpy(out_addr, ATTR_DATA(src), (size_t)size);
            uint16_t network;
            memcpy(&network, ATTR_DATA(port), 2);
            *out_port = ntohs(network);
            found = 1;
        }
    }
}
