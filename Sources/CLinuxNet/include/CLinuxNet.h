#ifndef WEFT_CLINUXNET_H
#define WEFT_CLINUXNET_H

#include <stdint.h>
#include <sys/socket.h>
#include <netinet/in.h>

/// setns(fd, CLONE_NEWNET); glibc hides setns behind _GNU_SOURCE, which Swift's Glibc module does not define.
int weft_setns_net(int fd);

#endif
