import WeftCore

/// What weftd waits for before it says it is ready.
enum ControlPlaneReadinessName: String, Sendable, CaseIterable, Comparable {
    case nodeAPI
    case adminAPI

    static func < (lhs: Self, rhs: Self) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}
