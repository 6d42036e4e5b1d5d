import Foundation
import NIOPosix
import Testing
import WeftCore

@testable import WeftNode

/// The node admin endpoint answers /config_dump and /certs only to root and the node's own user, as the kernel
/// reports the connecting socket's owner; /metrics, /healthz and /readyz to anyone who can reach it.
@Suite struct NodeAdminAccessTests {
    @Test func configDumpAndCertsAreForRootOnlyMetricsForEveryone() async throws {
        try #require(getuid() == 0, "needs root to connect as another user")
        let server = NodeAdminServer(
            addresses: [IPSocketAddress("127.0.0.1:0")!], group: MultiThreadedEventLoopGroup.singleton
        ) { path in .text("answer for \(path)\n") }
        try await server.start()
        let port = try #require(server.boundAddresses.first?.port)
        do {
            let base = "http://127.0.0.1:\(port)"
            #expect(try curl("\(base)/config_dump") == "200 answer for /config_dump")
            #expect(try curl("\(base)/certs") == "200 answer for /certs")

            let nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
            #expect(try curl("\(base)/metrics", as: nobody) == "200 answer for /metrics")
            #expect(try curl("\(base)/readyz", as: nobody) == "200 answer for /readyz")
            let refused = try curl("\(base)/config_dump", as: nobody)
            #expect(
                refused
                    == "403 /config_dump is served only to root and the node's own user; the caller runs as uid 65534")
            #expect(try curl("\(base)/certs", as: nobody).hasPrefix("403 /certs is served only to root"))
        } catch {
            await server.shutdown()
            throw error
        }
        await server.shutdown()
    }

    @Test func aRemoteCallerIsRefusedThePrivilegedPathsWithoutALookup() async throws {
        let access = NodeAdminAccess()
        let remote = try #require(IPSocketAddress("198.18.0.7:40000"))
        let server = try #require(IPSocketAddress("198.18.0.1:15020"))
        #expect(await access.refusal(path: "/metrics", client: remote, server: server) == nil)
        #expect(
            await access.refusal(path: "/config_dump", client: remote, server: server)?.reason
                == "/config_dump is served only to root on the node's own host; 198.18.0.7:40000 is remote")
    }

    @Test func aCallerWhoseSocketCannotBeFoundIsRefused() async throws {
        let access = NodeAdminAccess()
        let client = try #require(IPSocketAddress("127.0.0.1:1"))
        let server = try #require(IPSocketAddress("127.0.0.1:2"))
        let refusal = await access.refusal(path: "/certs", client: client, server: server)
        #expect(refusal?.reason == "cannot tell who is asking for /certs: no local socket 127.0.0.1:1 → 127.0.0.1:2")
    }

    /// "STATUS BODY" of a GET run as `prefix` (e.g. setpriv to another user).
    private func curl(_ url: String, as prefix: [String] = []) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = prefix + ["curl", "-sS", "--max-time", "5", "-w", "%{http_code}\\n", url]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
        guard let status = lines.last else { return "" }
        return ([status] + lines.dropLast()).joined(separator: " ")
    }
}
