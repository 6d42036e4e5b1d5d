import Foundation
import Testing
import WeftCore

@testable import WeftControlPlane

@Suite("Registry revocation", .serialized)
struct RegistryRevocationTests {
    /// Admins revoking one certificate at the same moment all get the revocation, none a conflict.
    @Test(arguments: StoreBackend.allCases)
    func concurrentRevocationsOfOneCertificateAllSucceed(_ backend: StoreBackend) async throws {
        try await RegistryTests.withRegistry(backend) { registry, _ in
            let issued = try await RegistryPlacementTests.join(
                registry, "a", declared: [RegistryPlacementTests.own], peer: RegistryPlacementTests.own)
            let serials = try await withThrowingTaskGroup(of: String.self) { group in
                for index in 0..<8 {
                    group.addTask {
                        try await registry.revokeCertificate(serial: issued.serialNumber, actor: "admin-\(index)")
                            .serialNumber
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(serials.count == 8 && Set(serials) == [issued.serialNumber])
            #expect(try await registry.revokedCertificates().count == 1)
        }
    }
}
