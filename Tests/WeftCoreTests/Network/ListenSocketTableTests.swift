import Testing
import WeftCore

#if canImport(Glibc)
    import Glibc
#endif

/// The listening sockets a node process opens, inherits from its predecessor and offers to its successor.
@Suite struct ListenSocketTableTests {
    let loopback = IPSocketAddress(address: .v4(0x7F00_0001), port: 0)

    func isOpen(_ fd: Int32) -> Bool { fcntl(fd, F_GETFD) != -1 }

    @Test func aNewSocketListensAndIsClosedOnExec() throws {
        let table = ListenSocketTable()
        let fd = try table.socket(for: ListenSocketKey(.tcp, loopback))
        defer { close(fd) }
        #expect(ListenSocket.localPort(fd) != 0)
        #expect(fcntl(fd, F_GETFD) & FD_CLOEXEC != 0, "a node's listeners never leak into what it runs")
        var listening: Int32 = 0
        var size = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &size)
        #expect(listening == 1)
        #expect(!table.wasInherited(ListenSocketKey(.tcp, loopback)))
    }

    @Test(.enabled(if: IPStack.hasIPv6)) func anIPv6SocketListensOnIPv6Only() throws {
        let fd = try ListenSocketTable().socket(for: ListenSocketKey(.tcp, IPSocketAddress("[::1]:0")!))
        defer { close(fd) }
        #expect(ListenSocket.localPort(fd) != 0)
        var only: Int32 = 0
        var size = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &only, &size)
        #expect(only == 1, "IPv4 connections belong to the IPv4 socket")
    }

    @Test func anInheritedSocketIsTakenForItsKeyAndTheUnclaimedOnesAreClosed() throws {
        let kept = try ListenSocket.open(ListenSocketKey(.tcp, loopback), backlog: 16)
        let unused = try ListenSocket.open(ListenSocketKey(.udp, loopback), backlog: 16)
        let keptKey = ListenSocketKey(.tcp, IPSocketAddress(address: .v4(0x7F00_0001), port: 15001))
        let unusedKey = ListenSocketKey(.udp, IPSocketAddress(address: .v4(0x7F00_0001), port: 15053))
        let table = ListenSocketTable(inherited: [keptKey: kept, unusedKey: unused])
        #expect(try table.socket(for: keptKey) == kept, "the predecessor's socket, not a new one")
        #expect(table.wasInherited(keptKey))
        #expect(table.closeUnclaimed() == [unusedKey])
        #expect(!isOpen(unused) && isOpen(kept))
        close(kept)
    }

    @Test func itOffersWhatIsOpenUntilSealedAndNeverAReleasedSocket() throws {
        let table = ListenSocketTable()
        let tcp = try table.socket(for: ListenSocketKey(.tcp, loopback))
        let udpKey = ListenSocketKey(.udp, loopback)
        let udp = try table.socket(for: udpKey)
        table.release(udpKey)
        close(udp)
        #expect(table.offer() == [ListenSocketKey(.tcp, loopback): tcp])
        table.seal()
        #expect(table.offer() == nil, "a stopping process offers nothing: its descriptors are about to close")
        close(tcp)
    }

    @Test func aBusyPortIsRefusedWithTheCallAndTheReason() throws {
        let first = try ListenSocket.open(ListenSocketKey(.udp, loopback), backlog: 1)
        defer { close(first) }
        let taken = ListenSocketKey(
            .udp, IPSocketAddress(address: .v4(0x7F00_0001), port: ListenSocket.localPort(first)))
        #expect {
            _ = try ListenSocketTable().socket(for: taken)
        } throws: { error in
            "\(error)" == "cannot open \(taken): bind: Address already in use"
        }
    }
}
