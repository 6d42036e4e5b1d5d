import Foundation
import Testing
import WeftCore

@Suite("Intention precedence")
struct AuthorizationPolicyTests {
    static let frontend = ServiceName(name: "frontend")
    static let backend = ServiceName(name: "backend")
    static let other = ServiceName(name: "other")

    static func intention(
        _ source: String, _ destination: String, _ action: IntentionAction, _ permissions: [L7Permission] = []
    )
        -> Intention
    {
        Intention(
            source: try! ServiceSelector(parsing: source), destination: try! ServiceSelector(parsing: destination),
            action: action, permissions: permissions
        )
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var intentions: [Intention]
        var defaultAction: IntentionAction = .allow
        var stopAll = false
        var source: ServiceName? = AuthorizationPolicyTests.frontend
        var request: L7Request? = nil
        var allowed: Bool
        var decidedBy: String?
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "no intention: default allow", intentions: [], allowed: true, decidedBy: nil),
        Case(name: "no intention: default deny", intentions: [], defaultAction: .deny, allowed: false, decidedBy: nil),
        Case(
            name: "exact allow over default deny", intentions: [intention("frontend", "backend", .allow)],
            defaultAction: .deny,
            allowed: true, decidedBy: "frontend>backend"),
        Case(
            name: "exact deny over default allow", intentions: [intention("frontend", "backend", .deny)],
            allowed: false, decidedBy: "frontend>backend"),
        Case(
            name: "exact->exact beats *->exact",
            intentions: [intention("*", "backend", .deny), intention("frontend", "backend", .allow)],
            allowed: true, decidedBy: "frontend>backend"),
        Case(
            name: "exact->exact deny beats *->exact allow",
            intentions: [intention("*", "backend", .allow), intention("frontend", "backend", .deny)],
            allowed: false, decidedBy: "frontend>backend"),
        Case(
            name: "*->exact beats exact->*",
            intentions: [intention("frontend", "*", .allow), intention("*", "backend", .deny)],
            allowed: false, decidedBy: "*>backend"),
        Case(
            name: "exact->* beats *->*", intentions: [intention("*", "*", .deny), intention("frontend", "*", .allow)],
            allowed: true, decidedBy: "frontend>*"),
        Case(
            name: "*->* decides when nothing else matches",
            intentions: [intention("*", "*", .deny), intention("other", "backend", .allow)],
            allowed: false, decidedBy: "*>*"),
        Case(
            name: "an intention for another source does not match", intentions: [intention("other", "backend", .deny)],
            allowed: true, decidedBy: nil),
        Case(
            name: "an intention for another destination does not match",
            intentions: [intention("frontend", "other", .deny)],
            allowed: true, decidedBy: nil),
        Case(
            name: "stop-all beats an exact allow", intentions: [intention("frontend", "backend", .allow)],
            stopAll: true,
            allowed: false, decidedBy: nil),
        Case(
            name: "caller without identity matches * only",
            intentions: [intention("frontend", "backend", .allow), intention("*", "backend", .deny)],
            source: nil, allowed: false, decidedBy: "*>backend"),
        Case(
            name: "caller without identity: exact intention ignored, default applies",
            intentions: [intention("frontend", "backend", .deny)],
            source: nil, allowed: true, decidedBy: nil),
        Case(
            name: "L7 intention lets a connection through at L4",
            intentions: [intention("frontend", "backend", .allow, [L7Permission(action: .allow, methods: ["GET"])])],
            defaultAction: .deny, allowed: true, decidedBy: "frontend>backend"),
        Case(
            name: "equal precedence: a matching deny permission beats a matching allow",
            intentions: [
                intention(
                    "frontend", "backend", .allow,
                    [L7Permission(action: .allow, pathPrefix: "/"), L7Permission(action: .deny, methods: ["DELETE"])])
            ],
            request: L7Request(method: "DELETE", path: "/x"), allowed: false, decidedBy: "frontend>backend"),
        Case(
            name: "permission matching the request allows",
            intentions: [
                intention(
                    "frontend", "backend", .allow, [L7Permission(action: .allow, methods: ["GET"], pathPrefix: "/api/")]
                )
            ],
            defaultAction: .deny, request: L7Request(method: "GET", path: "/api/v1"), allowed: true,
            decidedBy: "frontend>backend"),
        Case(
            name: "no permission matches: the next level decides",
            intentions: [
                intention("frontend", "backend", .allow, [L7Permission(action: .allow, pathExact: "/health")]),
                intention("*", "backend", .deny),
            ],
            request: L7Request(method: "GET", path: "/admin"), allowed: false, decidedBy: "*>backend"),
        Case(
            name: "no permission matches and nothing below: default",
            intentions: [
                intention("frontend", "backend", .allow, [L7Permission(action: .allow, pathExact: "/health")])
            ],
            defaultAction: .deny, request: L7Request(method: "GET", path: "/admin"), allowed: false, decidedBy: nil),
        Case(
            name: "header condition: exact value",
            intentions: [
                intention(
                    "frontend", "backend", .deny,
                    [L7Permission(action: .deny, headers: [HeaderCondition(name: "X-Env", exact: "prod")])])
            ],
            request: L7Request(method: "GET", path: "/", headers: [("x-env", "prod")]), allowed: false,
            decidedBy: "frontend>backend"),
        Case(
            name: "header condition: absent header does not match",
            intentions: [
                intention(
                    "frontend", "backend", .deny,
                    [L7Permission(action: .deny, headers: [HeaderCondition(name: "X-Env", present: true)])])
            ],
            request: L7Request(method: "GET", path: "/"), allowed: true, decidedBy: nil),
        Case(
            name: "plain deny applies to requests too", intentions: [intention("frontend", "backend", .deny)],
            request: L7Request(method: "GET", path: "/"), allowed: false, decidedBy: "frontend>backend"),
    ]

    @Test(arguments: cases)
    func decides(_ c: Case) {
        let policy = AuthorizationPolicy(intentions: c.intentions, defaultAction: c.defaultAction, stopAll: c.stopAll)
        let decision = policy.evaluate(source: c.source, destination: Self.backend, request: c.request)
        #expect(decision.allowed == c.allowed, "\(decision)")
        #expect(decision.intention == c.decidedBy, "\(decision)")
    }

    @Test func precedenceOrder() {
        #expect(Self.intention("a", "b", .allow).precedence == 3)
        #expect(Self.intention("*", "b", .allow).precedence == 2)
        #expect(Self.intention("a", "*", .allow).precedence == 1)
        #expect(Self.intention("*", "*", .allow).precedence == 0)
    }

    @Test func selectorsAndKeysRoundTrip() throws {
        let intention = Self.intention("shop/frontend", "*", .deny)
        #expect(intention.key == "shop/frontend>*")
        let data = try JSONEncoder().encode(intention)
        #expect(try JSONDecoder().decode(Intention.self, from: data) == intention)
        #expect(throws: DNSLabel.ValidationError.self) { try ServiceSelector(parsing: "Front_End") }
        #expect(throws: DNSLabel.ValidationError.self) { try ServiceSelector(parsing: "a/b/c") }
    }
}
