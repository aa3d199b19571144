// Package campaign is the product's engine: campaigns and their lifecycle, stock-linked
// reserves, gates, orders, attribution, refunds, jobs and stats. It moves money only through
// package wallet and speaks to WeChat only through the small interfaces it declares.
package campaign
