import WeftCore
