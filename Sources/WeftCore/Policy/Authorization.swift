/// The outcome of judging one connection or request against the intentions.
public struct AuthorizationDecision: Sendable, Equatable, CustomStringConvertible {
    public var allowed: Bool
    /// Why, for access logs and `weftctl`: the intention that decided, the default, or the stop-all switch.
    public var reason: String
    /// The key of the deciding intention, if one decided.
    public var intention: String?

    public init(allowed: Bool, reason: String, intention: String? = nil) {
        self.allowed = allowed
        self.reason = reason
        self.intention = intention
    }

    public var description: String { "\(allowed ? "allow" : "deny"): \(reason)" }
}

/// Everything a decision depends on besides the caller and the callee.
public struct AuthorizationPolicy: Sendable, Equatable, Codable {
    public var intentions: [Intention]
    /// What happens when no intention matches.
    public var defaultAction: IntentionAction
    /// Denies everything, whatever the intentions say.
    public var stopAll: Bool

    public init(intentions: [Intention] = [], defaultAction: IntentionAction = .allow, stopAll: Bool = false) {
        self.intentions = intentions
        self.defaultAction = defaultAction
        self.stopAll = stopAll
    }

    enum CodingKeys: String, CodingKey {
        case intentions
        case defaultAction = "default_action"
        case stopAll = "stop_all"
    }

    /// Judges a call from `source` (nil: a caller with no workload identity) to `destination`.
    ///
    /// Rules, in order: stop-all denies everything. Otherwise the matching intentions are taken from the most
    /// precedent down (exact over wildcard, destination before source). At the first level with a decision:
    /// an intention without permissions decides by its action; one with permissions lets a connection through
    /// (`request == nil`, the L7 proxy decides later) and decides a request by the permissions that match it, deny
    /// over allow — when none match, the next level decides. No decision at any level: the mesh default.
    /// A caller without identity matches only `*` sources.
    public func evaluate(source: ServiceName?, destination: ServiceName, request: L7Request? = nil)
        -> AuthorizationDecision
    {
        if stopAll { return AuthorizationDecision(allowed: false, reason: "all traffic is stopped") }
        let matching = intentions.filter { intention in
            intention.destination.matches(destination)
                && (source.map { intention.source.matches($0) } ?? (intention.source == .any))
        }
        for precedence in stride(from: 3, through: 0, by: -1) {
            let level = matching.filter { $0.precedence == precedence }
            guard !level.isEmpty else { continue }
            if let decision = Self.decide(level: level, request: request) { return decision }
        }
        return AuthorizationDecision(
            allowed: defaultAction == .allow,
            reason: "no intention matches; the mesh default is \(defaultAction.rawValue)"
        )
    }

    /// One precedence level; deny wins over allow. Nil when nothing at this level applies to the request.
    private static func decide(level: [Intention], request: L7Request?) -> AuthorizationDecision? {
        var allowedBy: Intention?
        for intention in level {
            if intention.permissions.isEmpty {
                if intention.action == .deny { return deny(intention) }
                allowedBy = allowedBy ?? intention
                continue
            }
            guard let request else {
                allowedBy = allowedBy ?? intention
                continue
            }
            let hits = intention.permissions.filter { $0.matches(request) }
            if hits.contains(where: { $0.action == .deny }) { return deny(intention) }
            if !hits.isEmpty { allowedBy = allowedBy ?? intention }
        }
        guard let allowedBy else { return nil }
        let how = allowedBy.permissions.isEmpty || request != nil ? "" : " (its L7 permissions judge each request)"
        return AuthorizationDecision(
            allowed: true, reason: "allowed by intention \(allowedBy.key)\(how)", intention: allowedBy.key
        )
    }

    private static func deny(_ intention: Intention) -> AuthorizationDecision {
        AuthorizationDecision(allowed: false, reason: "denied by intention \(intention.key)", intention: intention.key)
    }
}
