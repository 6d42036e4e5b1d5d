/// What a node tells the control plane runs on it: its addresses and its services with their endpoints.
public struct NodeRegistration: Sendable, Equatable {
    /// One service on the node; client-only workloads have no endpoints.
    public struct Service: Sendable, Equatable {
        public var name: ServiceName
        public var `protocol`: ServiceProtocol
        public var labels: [String: String]
        public var endpoints: [IPSocketAddress]

        public init(
            name: ServiceName, protocol: ServiceProtocol = .tcp, labels: [String: String] = [:],
            endpoints: [IPSocketAddress] = []
        ) {
            self.name = name
            self.protocol = `protocol`
            self.labels = labels
            self.endpoints = endpoints
        }
    }

    public var addresses: [IPAddress]
    public var services: [Service]

    public init(addresses: [IPAddress], services: [Service]) {
        self.addresses = addresses
        self.services = services
    }
}
