import WeftCore

/// What a node waits for before it is ready, as `/readyz` names it.
public enum NodeReadinessName: String, Sendable, CaseIterable, Comparable {
    case listeners
    case capture
    case config
    case certificates

    public static func < (lhs: Self, rhs: Self) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

typealias NodeReadiness = Readiness<NodeReadinessName>
typealias NodeReadinessToken = ReadinessToken<NodeReadinessName>
