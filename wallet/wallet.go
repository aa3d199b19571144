// Package wallet is the double-entry ledger behind every yuan in Fenxiao: merchants'
// red-packet assets, campaign reserves, sharers' commission vaults and red-packet payouts.
package wallet
